"""``POST /v1/verify`` is answered in front of Falcon for the ordinary call and by Falcon for everything else;
both answer byte for byte alike. Run in process against a live stack (its database, Redis and workers)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

from api.app import Deps, create_app
from api.verify_fast_path import VerifyFastPath
from notary.keys import signature
from notary.settings import load_settings
from tests.api.test_shared_keys import issue, start_key_service
from tests.support.instance_identity import InstanceIdentityAuthority
from tests.support.processes import NotaryStack

HOST = "notary.internal"


class CountingApp:
    """The Falcon app, counting the requests it is handed."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def live(stack: NotaryStack) -> tuple[NotaryStack, dict[str, Any]]:
    authority = InstanceIdentityAuthority()
    start_key_service(stack, authority)
    verifier = issue(stack, authority, "i-0000000000000000a").json()
    caller = issue(stack, authority, "i-0000000000000000b").json()
    return stack, {"verifier": verifier, "caller": caller}


def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 4443),
        "client": ("127.0.0.1", 5555),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]  # in two parts, as a slow client sends it

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.sleep(3600)
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.get_event_loop().run_until_complete(app(scope, receive, send))
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    found = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], found, content


def without_ttl(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, dict[str, str], Any]:
    """An answer with a verdict's remaining ttl left out: two calls a second apart may differ in it."""
    status, headers, body = answer
    try:
        document = json.loads(body)
    except ValueError:
        return status, headers, body
    if isinstance(document, dict):
        document.pop("ttl", None)
    return status, headers, document  # the length stays: the key's ttl (600 s) keeps its three digits


def question(key: dict[str, Any], **change: str) -> bytes:
    forwarded = signature.sign_request(
        "GET", "/orders?id=7", "shop.internal", b"", key["identity"], key["secret"], int(time.time() * 1000)
    )
    signed = signature.SignedRequest.from_headers(
        "GET", "/orders?id=7", {**forwarded, "Host": "shop.internal"}
    )
    return json.dumps({**signed.forwarded(), **change}).encode()


def signed_by(key: dict[str, Any], body: bytes, **extra: str) -> dict[str, str]:
    headers = signature.sign_request(
        "POST", "/v1/verify", HOST, body, key["identity"], key["secret"], int(time.time() * 1000)
    )
    return {
        "Host": HOST,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **headers,
        **extra,
    }


def test_both_paths_answer_alike_and_only_the_ordinary_call_skips_falcon(
    live: tuple[NotaryStack, dict[str, Any]],
) -> None:
    stack, keys = live
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(stack.root / "metrics"))
    settings = load_settings(stack.config_path, {})
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fast = create_app(settings, Deps.from_settings(settings))
    assert isinstance(fast, VerifyFastPath)
    falcon_app = CountingApp(fast.app)
    fast.app = falcon_app
    verifier, caller = keys["verifier"], keys["caller"]
    good = question(caller)
    tampered = question(caller, uri="/orders?id=8")
    malformed = json.dumps({"authorization": 5, "method": "GET"}).encode()
    cases: dict[str, tuple[dict[str, str], bytes, bool]] = {
        # name: (headers, body, answered in front of Falcon)
        "valid": (signed_by(verifier, good, **{"X-Request-ID": "req-1"}), good, True),
        "invalid signature": (signed_by(verifier, tampered, **{"X-Request-ID": "req-2"}), tampered, True),
        "not a verifier": (signed_by(caller, good, **{"X-Request-ID": "req-3"}), good, False),
        "body not the signed one": (
            {**signed_by(verifier, good, **{"X-Request-ID": "req-4"}), "Content-Length": str(len(tampered))},
            tampered,
            False,
        ),
        "not json": (signed_by(verifier, b"[1,", **{"X-Request-ID": "req-5"}), b"[1,", False),
        # The verdict refuses it: answered in front, in Falcon's error envelope, not run a second time.
        "malformed forwarded request": (
            signed_by(verifier, malformed, **{"X-Request-ID": "req-7"}),
            malformed,
            True,
        ),
        "no caller signature": ({"Host": HOST, "X-Request-ID": "req-6"}, good, False),
    }
    try:
        for name, (headers, body, in_front) in cases.items():
            before = falcon_app.calls
            through_front = call(fast, "POST", "/v1/verify", headers, body)
            assert falcon_app.calls - before == (0 if in_front else 1), name
            through_falcon = call(falcon_app, "POST", "/v1/verify", headers, body)
            assert without_ttl(through_front) == without_ttl(through_falcon), name
        assert json.loads(call(fast, "POST", "/v1/verify", *cases["valid"][:2])[2])["valid"] is True
        assert (
            json.loads(call(fast, "POST", "/v1/verify", *cases["invalid signature"][:2])[2])["valid"] is False
        )
        assert call(fast, "POST", "/v1/verify", *cases["not a verifier"][:2])[0] == 403
        assert call(fast, "POST", "/v1/verify", *cases["body not the signed one"][:2])[0] == 401
        assert call(fast, "POST", "/v1/verify", *cases["not json"][:2])[0] == 400
        refused = call(fast, "POST", "/v1/verify", *cases["malformed forwarded request"][:2])
        assert refused[0] == 400
        assert json.loads(refused[2])["errors"][0]["code"] == "INVALID_REQUEST"
    finally:
        loop.run_until_complete(
            fast.app(  # the lifespan's shutdown closes the app's connections
                {"type": "lifespan", "asgi": {"version": "3.0"}}, _lifespan_shutdown(), _ignore
            )
        )
        loop.close()


def _lifespan_shutdown() -> Any:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


async def _ignore(message: dict[str, Any]) -> None:
    return None
