"""The HTTP role provider against a real HTTP server on 127.0.0.1 standing in for Politician: timeouts,
retries with backoff, a short cache, and a failure is RolesUnavailableError, never empty roles
(shared-keys.md section 4). Backoff delays are recorded by an injected ``sleep``; nothing is timed."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from notary.keys.politician import IdentityTuple, RolesUnavailableError
from workers.politician import MAX_RESPONSE_BYTES, HttpProvider

WEB = IdentityTuple(
    account="716756199562", region="us-east-1", image="ami-0abc1234", instance="i-0123456789abcdef0"
)
OTHER = IdentityTuple(
    account="716756199562", region="us-east-1", image="ami-0abc1234", instance="i-0fedcba987654321f"
)
TIMEOUT = 2.0  # the provider's timeout in most tests: generous, so a loaded machine does not time out
SHORT_TIMEOUT = 0.5  # where the server hangs (for HANG_SECONDS, far longer)
HANG_SECONDS = 10.0


@dataclass
class Answer:
    """One scripted answer: ``kind`` is "roles", "status", "hang" or "raw"."""

    kind: str
    roles: list[object] = field(default_factory=list)
    status: int = 200
    body: bytes = b""

    @classmethod
    def ok(cls, *roles: object) -> Answer:
        return cls("roles", roles=list(roles))

    @classmethod
    def error(cls, status: int) -> Answer:
        return cls("status", status=status, body=b'{"error": "nope"}')

    @classmethod
    def hang(cls) -> Answer:
        return cls("hang")

    @classmethod
    def raw(cls, body: bytes, status: int = 200) -> Answer:
        return cls("raw", status=status, body=body)


@dataclass
class Request:
    path: str
    content_type: str | None
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # The provider drops connections it will not reuse (after a 5xx, a timeout, an oversized answer).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakePolitician:
    """Answers with the next scripted answer (repeating the last one) and records every request."""

    def __init__(self) -> None:
        self.script: list[Answer] = [Answer.ok("web")]
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        politician = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with politician._lock:
                    politician.requests.append(Request(self.path, self.headers.get("Content-Type"), body))
                    answer = politician.script[min(len(politician.requests), len(politician.script)) - 1]
                if answer.kind == "hang":
                    politician._release.wait(HANG_SECONDS)
                    self.close_connection = True
                    return
                if answer.kind == "roles":
                    payload = json.dumps({"roles": answer.roles}).encode()
                else:
                    payload = answer.body
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                try:
                    self.end_headers()
                    self.wfile.write(payload)
                except ConnectionError:  # the client gave up reading (e.g. an oversized answer)
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                return None

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/roles"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def politician() -> Iterator[FakePolitician]:
    server = FakePolitician()
    yield server
    server.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make(sleeps: list[float], clock: FakeClock) -> Iterator[type[HttpProvider]]:
    """HttpProvider with a recording sleep, a fake clock and a short timeout; closed afterwards."""
    made: list[HttpProvider] = []

    class Provider(HttpProvider):
        def __init__(self, url: str, **options: object) -> None:
            options.setdefault("timeout", TIMEOUT)
            options.setdefault("sleep", sleeps.append)
            options.setdefault("clock", clock)
            super().__init__(url, **options)  # type: ignore[arg-type]
            made.append(self)

    yield Provider
    for provider in made:
        provider.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/roles"


# --- success and the request -----------------------------------------------------------------------------


def test_success_posts_the_identity_tuple_as_json(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]
) -> None:
    politician.script = [Answer.ok("web", "base", "web")]
    provider = make(politician.url)
    assert provider.roles(WEB) == ("base", "web")
    (request,) = politician.requests
    assert request.path == "/v1/roles"
    assert request.content_type == "application/json"
    assert json.loads(request.body) == {
        "account": "716756199562",
        "region": "us-east-1",
        "image": "ami-0abc1234",
        "instance": "i-0123456789abcdef0",
        "vpc": None,
        "autoscaling_group": None,
    }
    assert sleeps == []


def test_enriched_fields_are_sent(politician: FakePolitician, make: type[HttpProvider]) -> None:
    enriched = IdentityTuple(**(WEB.to_dict() | {"vpc": "vpc-8de77a22c", "autoscaling_group": "web-prod"}))  # type: ignore[arg-type]
    make(politician.url).roles(enriched)
    sent = json.loads(politician.requests[0].body)
    assert (sent["vpc"], sent["autoscaling_group"]) == ("vpc-8de77a22c", "web-prod")


def test_empty_roles_from_politician_is_a_valid_answer(
    politician: FakePolitician, make: type[HttpProvider]
) -> None:
    politician.script = [Answer.ok()]
    provider = make(politician.url)
    assert provider.roles(WEB) == ()
    assert provider.roles(WEB) == ()
    assert politician.count == 1  # and it is cached like any answer


def test_extra_members_in_the_answer_are_ignored(
    politician: FakePolitician, make: type[HttpProvider]
) -> None:
    politician.script = [Answer.raw(b'{"roles": ["web"], "policies": ["p1"], "ttl": 60}')]
    assert make(politician.url).roles(WEB) == ("web",)


def test_default_client_is_created_and_closed(politician: FakePolitician) -> None:
    with HttpProvider(politician.url, timeout=TIMEOUT) as provider:
        assert provider.roles(WEB) == ("web",)
    assert provider._client.is_closed


def test_injected_client_is_used_and_not_closed(politician: FakePolitician) -> None:
    with httpx.Client() as client:
        provider = HttpProvider(politician.url, client=client, timeout=TIMEOUT)
        assert provider.roles(WEB) == ("web",)
        provider.close()
        assert not client.is_closed
        assert provider.roles(OTHER) == ("web",)


# --- the cache -------------------------------------------------------------------------------------------


def test_cache_hit_makes_no_request(politician: FakePolitician, make: type[HttpProvider]) -> None:
    provider = make(politician.url)
    assert provider.roles(WEB) == ("web",)
    politician.script = [Answer.ok("web"), Answer.ok("changed")]
    assert provider.roles(WEB) == ("web",)
    assert politician.count == 1
    assert provider.roles(OTHER) == ("changed",)  # another identity tuple is another entry
    assert politician.count == 2


def test_cache_expiry_with_injected_clock(
    politician: FakePolitician, make: type[HttpProvider], clock: FakeClock
) -> None:
    politician.script = [Answer.ok("old"), Answer.ok("new")]
    provider = make(politician.url, cache_seconds=30.0)
    assert provider.roles(WEB) == ("old",)
    clock.now += 29.9
    assert provider.roles(WEB) == ("old",)
    assert politician.count == 1
    clock.now += 0.1  # 30 seconds after the answer
    assert provider.roles(WEB) == ("new",)
    assert politician.count == 2
    clock.now += 29.9  # the new answer is cached from when it came
    assert provider.roles(WEB) == ("new",)
    assert politician.count == 2


def test_cache_disabled(politician: FakePolitician, make: type[HttpProvider]) -> None:
    provider = make(politician.url, cache_seconds=0)
    provider.roles(WEB)
    provider.roles(WEB)
    assert politician.count == 2


def test_cache_is_bounded_least_recently_used_first(
    politician: FakePolitician, make: type[HttpProvider]
) -> None:
    third = IdentityTuple(**(WEB.to_dict() | {"instance": "i-0000000000000000a"}))  # type: ignore[arg-type]
    provider = make(politician.url, cache_entries=2)
    provider.roles(WEB)
    provider.roles(OTHER)
    provider.roles(WEB)  # WEB is now the most recently used
    provider.roles(third)  # evicts OTHER
    assert politician.count == 3
    provider.roles(WEB)
    assert politician.count == 3
    provider.roles(OTHER)
    assert politician.count == 4


def test_clear_cache(politician: FakePolitician, make: type[HttpProvider]) -> None:
    provider = make(politician.url)
    provider.roles(WEB)
    provider.clear_cache()
    provider.roles(WEB)
    assert politician.count == 2


# --- retries ---------------------------------------------------------------------------------------------


def test_500_then_200_is_retried_and_succeeds(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]
) -> None:
    politician.script = [Answer.error(500), Answer.ok("web")]
    assert make(politician.url, backoff=0.2).roles(WEB) == ("web",)
    assert politician.count == 2
    assert sleeps == [0.2]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_always_5xx_fails_after_retries_plus_one_attempts(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float], status: int
) -> None:
    politician.script = [Answer.error(status)]
    provider = make(politician.url, retries=3, backoff=0.2)
    with pytest.raises(RolesUnavailableError, match=rf"after 4 attempt\(s\): HTTP {status}"):
        provider.roles(WEB)
    assert politician.count == 4
    assert sleeps == pytest.approx([0.2, 0.4, 0.8])


def test_backoff_sequence_follows_the_configuration(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]
) -> None:
    politician.script = [Answer.error(503)]
    with pytest.raises(RolesUnavailableError):
        make(politician.url, retries=5, backoff=0.5).roles(WEB)
    assert politician.count == 6
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_no_retries(politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]) -> None:
    politician.script = [Answer.error(500)]
    with pytest.raises(RolesUnavailableError, match=r"after 1 attempt\(s\)"):
        make(politician.url, retries=0).roles(WEB)
    assert politician.count == 1
    assert sleeps == []


def test_timeout_is_retried_then_fails(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]
) -> None:
    politician.script = [Answer.hang()]
    with pytest.raises(RolesUnavailableError, match="timed out"):
        make(politician.url, retries=2, backoff=0.1, timeout=SHORT_TIMEOUT).roles(WEB)
    assert politician.count == 3
    assert sleeps == pytest.approx([0.1, 0.2])


def test_timeout_then_success(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float]
) -> None:
    politician.script = [Answer.hang(), Answer.ok("web")]
    assert make(politician.url, retries=1, backoff=0.1, timeout=SHORT_TIMEOUT).roles(WEB) == ("web",)
    assert politician.count == 2
    assert sleeps == [0.1]


def test_server_down_fails_after_retries(make: type[HttpProvider], sleeps: list[float]) -> None:
    provider = make(closed_port_url(), retries=3, backoff=0.2)
    with pytest.raises(RolesUnavailableError, match=r"after 4 attempt\(s\): ConnectError"):
        provider.roles(WEB)
    assert sleeps == pytest.approx([0.2, 0.4, 0.8])


# --- answers that fail at once ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 429])
def test_4xx_fails_at_once(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float], status: int
) -> None:
    politician.script = [Answer.error(status), Answer.ok("web")]
    with pytest.raises(RolesUnavailableError, match=f"answered HTTP {status}"):
        make(politician.url).roles(WEB)
    assert politician.count == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [201, 204, 302])
def test_other_non_200_statuses_fail_at_once(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float], status: int
) -> None:
    politician.script = [Answer.raw(b'{"roles": ["web"]}', status=status)]
    with pytest.raises(RolesUnavailableError, match=f"answered HTTP {status}"):
        make(politician.url).roles(WEB)
    assert politician.count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"roles": ["web"', "not JSON"),
        (b"", "not JSON"),
        (b"<html>OK</html>", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["web"]', "not {"),
        (b"null", "not {"),
        (b'{"role": ["web"]}', "not {"),
        (b'{"roles": "web"}', "invalid roles"),
        (b'{"roles": null}', "invalid roles"),
        (b'{"roles": {"web": true}}', "invalid roles"),
        (b'{"roles": ["web", 7]}', "invalid roles"),
        (b'{"roles": ["web", ""]}', "invalid roles"),
        (b'{"roles": ["web server"]}', "invalid roles"),
        (b'{"roles": ["' + b"x" * 129 + b'"]}', "invalid roles"),
    ],
)
def test_malformed_answer_fails_at_once(
    politician: FakePolitician, make: type[HttpProvider], sleeps: list[float], body: bytes, message: str
) -> None:
    politician.script = [Answer.raw(body), Answer.ok("web")]
    with pytest.raises(RolesUnavailableError, match=message):
        make(politician.url).roles(WEB)
    assert politician.count == 1
    assert sleeps == []


def test_oversized_answer_fails(politician: FakePolitician, make: type[HttpProvider]) -> None:
    padding = b" " * MAX_RESPONSE_BYTES
    politician.script = [Answer.raw(b'{"roles": ["web"]}' + padding)]
    with pytest.raises(RolesUnavailableError, match="too large"):
        make(politician.url).roles(WEB)
    assert politician.count == 1


# --- failures are not cached and never empty roles -------------------------------------------------------


@pytest.mark.parametrize("failure", [Answer.error(500), Answer.error(404), Answer.raw(b"nonsense")])
def test_failures_are_not_cached(
    politician: FakePolitician, make: type[HttpProvider], failure: Answer
) -> None:
    politician.script = [failure, Answer.ok("web")]
    provider = make(politician.url, retries=0)
    with pytest.raises(RolesUnavailableError):
        provider.roles(WEB)
    assert provider.roles(WEB) == ("web",)
    assert politician.count == 2
    assert provider.roles(WEB) == ("web",)  # the success is cached
    assert politician.count == 2


def test_a_cached_answer_survives_an_outage_until_it_expires(
    politician: FakePolitician, make: type[HttpProvider], clock: FakeClock
) -> None:
    politician.script = [Answer.ok("web"), Answer.error(500)]
    provider = make(politician.url, retries=1, cache_seconds=30.0)
    assert provider.roles(WEB) == ("web",)
    clock.now += 10
    assert provider.roles(WEB) == ("web",)
    clock.now += 20
    with pytest.raises(RolesUnavailableError):
        provider.roles(WEB)


def test_message_names_the_url_without_credentials_or_query(
    politician: FakePolitician, make: type[HttpProvider]
) -> None:
    port = politician.server.server_address[1]
    politician.script = [Answer.error(404)]
    provider = make(f"http://user:s3cret@127.0.0.1:{port}/v1/roles?token=t0ken")
    with pytest.raises(RolesUnavailableError) as raised:
        provider.roles(WEB)
    message = str(raised.value)
    assert f"127.0.0.1:{port}/v1/roles" in message
    assert "s3cret" not in message
    assert "t0ken" not in message


# --- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("ftp://politician/roles", {}),
        ("/v1/roles", {}),
        ("http://politician/roles", {"timeout": 0}),
        ("http://politician/roles", {"retries": -1}),
        ("http://politician/roles", {"retries": 1.5}),
        ("http://politician/roles", {"backoff": -0.1}),
        ("http://politician/roles", {"cache_entries": 0}),
    ],
)
def test_bad_configuration_is_rejected(url: str, options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        HttpProvider(url, **options)  # type: ignore[arg-type]


def test_identity_must_be_an_identity_tuple(politician: FakePolitician, make: type[HttpProvider]) -> None:
    with pytest.raises(TypeError):
        make(politician.url).roles(WEB.to_dict())  # type: ignore[arg-type]
    assert politician.count == 0
