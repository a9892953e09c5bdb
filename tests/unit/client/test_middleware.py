"""notary.client.middleware: WSGI and Falcon middleware against a stand-in for Notary's ``/v1/verify``.

The stand-in (tests.unit.client.servers.NotaryStandIn) is a real HTTP server implementing section 6's contract
with ``notary.keys.signature.verify`` and a known key table; the middleware authenticates to it with its own
key (``CALLER``), as it would to Notary.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import falcon
import falcon.testing
import httpx
import pytest
import requests

from notary.client.auth import NotaryHttpxAuth, NotaryRequestsAuth
from notary.client.middleware import (
    FalconVerifyingMiddleware,
    VerifyingMiddleware,
    raw_request_uri,
)
from notary.client.verifier import NotaryVerifier, Verified
from notary.keys.signature import SCHEME, sign_request
from tests.unit.client.servers import CALLER, CLIENT, Key, NotaryStandIn, closed_port_url, now_ms

HOST = "svc.internal:8443"
ROOT = Path(__file__).resolve().parents[3]


class App:
    """A tiny WSGI app that records what reached it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        self.seen.append(
            {"identity": environ["notary.identity"], "roles": environ["notary.roles"], "body": body}
        )
        payload = json.dumps({"identity": environ["notary.identity"]}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [payload]


def signed_environ(
    method: str,
    target: str,
    body: bytes = b"",
    *,
    key: Key = CLIENT,
    secret: str | None = None,
    date_ms: int | None = None,
    raw_uri_key: str | None = "RAW_URI",
    sent_body: bytes | None = None,
) -> dict[str, Any]:
    """A WSGI environ for a request signed over ``target`` and ``body``; ``sent_body`` is what arrives."""
    headers = sign_request(
        method,
        target,
        HOST,
        body,
        key.identity,
        secret or key.secret,
        now_ms() if date_ms is None else date_ms,
    )
    arriving = body if sent_body is None else sent_body
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "HTTP_HOST": HOST,
        "HTTP_DATE": headers["Date"],
        "HTTP_DIGEST": headers["Digest"],
        "HTTP_AUTHORIZATION": headers["Authorization"],
        "CONTENT_LENGTH": str(len(arriving)),
        "wsgi.input": io.BytesIO(arriving),
    }
    if raw_uri_key:
        environ[raw_uri_key] = target
    setup_testing_defaults(environ)
    return environ


class Call:
    def __init__(self, middleware: VerifyingMiddleware, environ: dict[str, Any]) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.status = status
            self.headers = dict(headers)

        self.body = b"".join(middleware(environ, start_response))

    @property
    def code(self) -> int:
        return int(self.status.split()[0])

    @property
    def error(self) -> str:
        errors = json.loads(self.body)["errors"]
        assert len(errors) == 1
        assert set(errors[0]) == {"code", "message"}
        return str(errors[0]["code"])


@pytest.fixture
def app() -> App:
    return App()


def middleware_for(app: App, url: str, **kwargs: Any) -> VerifyingMiddleware:
    kwargs.setdefault("caller_auth", NotaryRequestsAuth(CALLER.identity, CALLER.secret))
    return VerifyingMiddleware(app, url, **kwargs)


# --- the way through ----------------------------------------------------------------------------------------


def test_a_valid_request_reaches_the_app_with_identity_roles_and_body(
    app: App, notary: NotaryStandIn
) -> None:
    body = b'{"amount": 10, "note": "caf\xc3\xa9"}'
    environ = signed_environ("POST", "/v1/pay?a=1&b=%20x", body)
    call = Call(middleware_for(app, notary.url), environ)
    assert call.code == 200, call.body
    assert app.seen == [{"identity": CLIENT.identity, "roles": CLIENT.roles, "body": body}]
    assert environ["notary.verified"] == Verified(CLIENT.identity, CLIENT.roles, "2099-01-01T00:00:00Z", 3600)
    assert notary.calls == [
        {
            "authorization": environ["HTTP_AUTHORIZATION"],
            "method": "POST",
            "uri": "/v1/pay?a=1&b=%20x",
            "host": HOST,
            "date": environ["HTTP_DATE"],
            "digest": environ["HTTP_DIGEST"],
        }
    ]


def test_request_uri_is_used_when_there_is_no_raw_uri(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/a%2Fb?q=%7E", raw_uri_key="REQUEST_URI")
    assert Call(middleware_for(app, notary.url), environ).code == 200
    assert notary.calls[0]["uri"] == "/v1/a%2Fb?q=%7E"


def test_without_a_raw_uri_the_decoded_path_is_quoted_again(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/files/a%20b/%C3%A9?x=%20y", raw_uri_key=None)
    assert environ["PATH_INFO"] == "/v1/files/a b/\u00c3\u00a9"  # PEP 3333: bytes as latin-1
    assert Call(middleware_for(app, notary.url), environ).code == 200
    assert notary.calls[0]["uri"] == "/v1/files/a%20b/%C3%A9?x=%20y"


@pytest.mark.parametrize(
    ("environ", "uri"),
    [
        ({"RAW_URI": "/r?x=%41", "REQUEST_URI": "/q", "PATH_INFO": "/p"}, "/r?x=%41"),
        ({"REQUEST_URI": "/q%2F", "PATH_INFO": "/p"}, "/q%2F"),
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/a b", "QUERY_STRING": "k=v"}, "/app/a%20b?k=v"),
        ({"PATH_INFO": ""}, "/"),
        ({"PATH_INFO": "/100%"}, "/100%25"),
        ({"RAW_URI": "/only/the/path", "QUERY_STRING": "a=%20"}, "/only/the/path?a=%20"),  # falcon.testing
        ({"RAW_URI": "/p?", "QUERY_STRING": ""}, "/p?"),
    ],
)
def test_raw_request_uri(environ: dict[str, str], uri: str) -> None:
    assert raw_request_uri(environ) == uri


def test_a_chunked_body_without_content_length_is_read_when_terminated(
    app: App, notary: NotaryStandIn
) -> None:
    environ = signed_environ("PUT", "/v1/blob", b"chunked body")
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    environ["wsgi.input_terminated"] = True
    assert Call(middleware_for(app, notary.url), environ).code == 200
    assert app.seen[0]["body"] == b"chunked body"
    assert environ["CONTENT_LENGTH"] == "12"


def test_a_chunked_body_on_a_server_that_cannot_terminate_it_is_411(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("PUT", "/v1/blob", b"chunked body")
    del environ["CONTENT_LENGTH"]
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (411, "LENGTH_REQUIRED")
    assert not app.seen


# --- refused locally, without asking Notary -----------------------------------------------------------------


def test_a_digest_mismatch_is_401_without_calling_notary(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("POST", "/v1/pay", b'{"amount": 10}', sent_body=b'{"amount": 9999}')
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (401, "DIGEST_MISMATCH")
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["WWW-Authenticate"] == SCHEME
    assert notary.calls == []
    assert app.seen == []


def test_a_missing_header_is_400_without_calling_notary(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/x")
    del environ["HTTP_AUTHORIZATION"]
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (400, "MISSING_HEADER")
    assert json.loads(call.body)["errors"][0]["message"] == "Missing header authorization"
    assert notary.calls == []


def test_a_malformed_authorization_is_400_without_calling_notary(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/x")
    environ["HTTP_AUTHORIZATION"] = "Basic dXNlcjpwdw=="
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (400, "MALFORMED_AUTHORIZATION")
    assert notary.calls == []


class ExplodingInput(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read although Content-Length was already too large")


def test_a_body_over_the_limit_is_413_before_reading(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("POST", "/v1/up", b"x" * 101)
    environ["wsgi.input"] = ExplodingInput()
    call = Call(middleware_for(app, notary.url, max_body=100), environ)
    assert (call.code, call.error) == (413, "PAYLOAD_TOO_LARGE")
    assert notary.calls == []
    assert app.seen == []


def test_a_body_at_the_limit_passes(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("POST", "/v1/up", b"x" * 100)
    assert Call(middleware_for(app, notary.url, max_body=100), environ).code == 200


def test_a_chunked_body_over_the_limit_is_413(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("POST", "/v1/up", b"x" * 200_000)
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    call = Call(middleware_for(app, notary.url, max_body=100_000), environ)
    assert (call.code, call.error) == (413, "PAYLOAD_TOO_LARGE")
    assert notary.calls == []


@pytest.mark.parametrize("length", ["-1", "ten", "\u00b2"])
def test_a_bad_content_length_is_400(app: App, notary: NotaryStandIn, length: str) -> None:
    environ = signed_environ("POST", "/v1/up", b"x")
    environ["CONTENT_LENGTH"] = length
    assert Call(middleware_for(app, notary.url), environ).code == 400


def test_a_body_shorter_than_its_content_length_is_400(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("POST", "/v1/up", b"abc")
    environ["CONTENT_LENGTH"] = "10"
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (400, "MALFORMED_REQUEST")


# --- refused by Notary --------------------------------------------------------------------------------------


def test_notary_says_invalid_signature(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/x", secret="a-wrong-secret")
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (401, "INVALID_SIGNATURE")
    assert json.loads(call.body)["errors"][0]["message"] == "Invalid authentication factors"
    assert len(notary.calls) == 1
    assert app.seen == []


def test_notary_says_unknown_key(app: App, notary: NotaryStandIn) -> None:
    stranger = Key("dj0xOnRlc3QtZGM6dC0wMDAwMDAwMDAwMDAwMDAw", "whatever")
    call = Call(middleware_for(app, notary.url), signed_environ("GET", "/v1/x", key=stranger))
    assert (call.code, call.error) == (401, "UNKNOWN_KEY")


def test_notary_judges_the_skew(app: App, notary: NotaryStandIn) -> None:
    environ = signed_environ("GET", "/v1/x", date_ms=now_ms() - 60 * 60 * 1000)
    call = Call(middleware_for(app, notary.url), environ)
    assert (call.code, call.error) == (401, "DATE_SKEW")
    assert len(notary.calls) == 1


def test_a_code_this_version_does_not_know_is_401(app: App, notary: NotaryStandIn) -> None:
    notary.mode = 'answer:{"valid": false, "code": "KEY_REVOKED", "message": "Key revoked"}'
    call = Call(middleware_for(app, notary.url), signed_environ("GET", "/v1/x"))
    assert (call.code, call.error) == (401, "KEY_REVOKED")


def test_a_missing_required_role_is_403(app: App, notary: NotaryStandIn) -> None:
    middleware = middleware_for(app, notary.url, required_roles=("billing:read", "billing:admin"))
    call = Call(middleware, signed_environ("GET", "/v1/x"))
    assert (call.code, call.error) == (403, "FORBIDDEN")
    assert "billing:admin" in json.loads(call.body)["errors"][0]["message"]
    assert app.seen == []


def test_required_roles_that_are_held_pass(app: App, notary: NotaryStandIn) -> None:
    middleware = middleware_for(app, notary.url, required_roles=("billing:read", "billing:write"))
    assert Call(middleware, signed_environ("GET", "/v1/x")).code == 200


# --- Notary cannot be asked: 503, never a pass --------------------------------------------------------------


def test_notary_down_is_503(app: App) -> None:
    call = Call(middleware_for(app, closed_port_url(), timeout=2), signed_environ("GET", "/v1/x"))
    assert (call.code, call.error) == (503, "NOTARY_UNAVAILABLE")
    assert app.seen == []


@pytest.mark.parametrize(
    "mode",
    [
        "error500",
        "not-json",
        'answer:{"valid": "yes"}',
        'answer:{"valid": true, "roles": []}',
        'answer:{"valid": true, "identity": "someone-else", "roles": []}',
        'answer:{"valid": false}',
        "answer:[]",
    ],
)
def test_a_broken_answer_is_503(app: App, notary: NotaryStandIn, mode: str) -> None:
    notary.mode = mode
    call = Call(middleware_for(app, notary.url), signed_environ("GET", "/v1/x"))
    assert (call.code, call.error) == (503, "NOTARY_UNAVAILABLE")
    assert app.seen == []


def test_notary_refusing_our_own_credentials_is_503(app: App, notary: NotaryStandIn) -> None:
    middleware = middleware_for(app, notary.url, caller_auth=NotaryRequestsAuth(CALLER.identity, "wrong"))
    call = Call(middleware, signed_environ("GET", "/v1/x"))
    assert (call.code, call.error) == (503, "NOTARY_UNAVAILABLE")


def test_a_caller_without_the_verify_role_is_503(app: App, notary: NotaryStandIn) -> None:
    middleware = middleware_for(
        app, notary.url, caller_auth=NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)
    )
    assert Call(middleware, signed_environ("GET", "/v1/x")).code == 503


def test_an_httpx_auth_is_accepted_as_caller_auth(app: App, notary: NotaryStandIn) -> None:
    middleware = middleware_for(app, notary.url, caller_auth=NotaryHttpxAuth(CALLER.identity, CALLER.secret))
    assert Call(middleware, signed_environ("GET", "/v1/x")).code == 200


def test_a_shared_verifier_is_reused(app: App, notary: NotaryStandIn) -> None:
    verifier = NotaryVerifier(notary.url, caller_auth=NotaryRequestsAuth(CALLER.identity, CALLER.secret))
    middleware = VerifyingMiddleware(app, "unused", caller_auth=lambda r: r, verifier=verifier)
    for _ in range(3):
        assert Call(middleware, signed_environ("GET", "/v1/x")).code == 200
    verifier.close()


# --- end to end under a real WSGI server --------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def wsgi_server(app: App, notary: NotaryStandIn) -> Iterator[str]:
    server: WSGIServer = make_server(
        "127.0.0.1", 0, middleware_for(app, notary.url), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_end_to_end_with_requests_and_httpx(wsgi_server: str, app: App) -> None:
    signed = requests.post(
        wsgi_server + "/v1/pay?a=1&b=%20x",
        json={"amount": 10},
        auth=NotaryRequestsAuth(CLIENT.identity, CLIENT.secret),
        timeout=10,
    )
    assert signed.status_code == 200, signed.text
    assert signed.json() == {"identity": CLIENT.identity}
    assert app.seen[-1]["body"] == b'{"amount": 10}'

    response = httpx.put(
        wsgi_server + "/v1/blob",
        content=b"raw bytes",
        auth=NotaryHttpxAuth(CLIENT.identity, CLIENT.secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert app.seen[-1]["body"] == b"raw bytes"

    unsigned = requests.get(wsgi_server + "/v1/x", timeout=10)
    assert unsigned.status_code == 400
    assert unsigned.json()["errors"][0]["code"] == "MISSING_HEADER"
    assert len(app.seen) == 2


# --- Falcon -------------------------------------------------------------------------------------------------


class Echo:
    def __init__(self) -> None:
        self.calls = 0

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.calls += 1
        resp.media = {
            "identity": req.context.notary_identity,
            "roles": list(req.context.notary_roles),
            "env_identity": req.env["notary.identity"],
            "body": req.bounded_stream.read().decode(),
        }


def falcon_client(notary: NotaryStandIn, echo: Echo, **kwargs: Any) -> falcon.testing.TestClient:
    middleware = FalconVerifyingMiddleware(
        notary.url, caller_auth=NotaryRequestsAuth(CALLER.identity, CALLER.secret), **kwargs
    )
    falcon_app = falcon.App(middleware=[middleware])
    falcon_app.add_route("/v1/echo", echo)
    return falcon.testing.TestClient(falcon_app)


def falcon_post(client: falcon.testing.TestClient, body: bytes, sent: bytes | None = None) -> Any:
    headers = sign_request("POST", "/v1/echo?x=%20", HOST, body, CLIENT.identity, CLIENT.secret, now_ms())
    return client.simulate_post(
        "/v1/echo",
        query_string="x=%20",
        body=sent if sent is not None else body,
        headers={**headers, "Host": HOST},
    )


def test_falcon_middleware_passes_a_valid_request(notary: NotaryStandIn) -> None:
    echo = Echo()
    result = falcon_post(falcon_client(notary, echo), b'{"k": "v"}')
    assert result.status_code == 200, result.text
    assert result.json == {
        "identity": CLIENT.identity,
        "roles": list(CLIENT.roles),
        "env_identity": CLIENT.identity,
        "body": '{"k": "v"}',
    }


def test_falcon_middleware_refuses_a_tampered_body(notary: NotaryStandIn) -> None:
    echo = Echo()
    result = falcon_post(falcon_client(notary, echo), b'{"k": "v"}', sent=b'{"k": "w"}')
    assert result.status_code == 401
    assert result.json == {
        "errors": [{"code": "DIGEST_MISMATCH", "message": "Digest header does not match request body"}]
    }
    assert result.headers["WWW-Authenticate"] == SCHEME
    assert echo.calls == 0
    assert notary.calls == []


def test_falcon_middleware_missing_role_and_notary_down(notary: NotaryStandIn) -> None:
    echo = Echo()
    assert falcon_post(falcon_client(notary, echo, required_roles=["admin"]), b"{}").status_code == 403
    down = FalconVerifyingMiddleware(
        closed_port_url(), caller_auth=NotaryRequestsAuth(CALLER.identity, CALLER.secret)
    )
    falcon_app = falcon.App(middleware=[down])
    falcon_app.add_route("/v1/echo", echo)
    result = falcon_post(falcon.testing.TestClient(falcon_app), b"{}")
    assert result.status_code == 503
    assert result.json["errors"][0]["code"] == "NOTARY_UNAVAILABLE"
    assert echo.calls == 0


# --- under gunicorn, which gives RAW_URI --------------------------------------------------------------------


@pytest.fixture
def gunicorn_url(notary: NotaryStandIn) -> Iterator[str]:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed")
    url = closed_port_url()
    env = {**os.environ, "NOTARY_TEST_URL": notary.url, "NO_PROXY": "*"}
    command = [str(gunicorn), "--bind", url.removeprefix("http://"), "--workers", "1", "--threads", "2"]
    process = subprocess.Popen(
        [*command, "tests.unit.client.gunicorn_app:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(url + "/", timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"gunicorn did not start: {stderr}")
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr:
            process.stderr.close()


def test_under_gunicorn_the_raw_uri_is_verified(gunicorn_url: str) -> None:
    target = "/v1/files/a%2Fb%20c/%C3%A9?b=%20x&a=1"  # %2F cannot be rebuilt from a decoded PATH_INFO
    response = requests.post(
        gunicorn_url + target,
        data=b"payload",
        auth=NotaryRequestsAuth(CLIENT.identity, CLIENT.secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "identity": CLIENT.identity,
        "roles": list(CLIENT.roles),
        "raw_uri": target,
        "body": "payload",
    }
    tampered = requests.Request("POST", gunicorn_url + target, data=b"payload").prepare()
    NotaryRequestsAuth(CLIENT.identity, CLIENT.secret)(tampered)
    tampered.body = b"PAYLOAD"
    with requests.Session() as session:
        refused = session.send(tampered, timeout=10)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "DIGEST_MISMATCH"
