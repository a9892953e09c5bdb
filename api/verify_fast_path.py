"""``POST /v1/verify`` served straight from ASGI, in front of the Falcon app.

Verification is the fleet's hot path, and for it the framework's per-request work (request and response
objects, middleware, media handlers) costs more than the verification itself. So this layer answers the
ordinary call, a caller signing with its own key and getting its verdict, with the same functions the
Falcon resource uses (KeyService, Verifier, the request-id and metrics helpers), and hands EVERY other case to
Falcon: another route or method, a token caller, a header or body this layer does not take as is, and any
refusal or error. Falcon then does the whole request again (the body is replayed to it) and answers as it
always does, so an error is rendered in one place only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from api.middleware import record_response, request_id_for
from api.resources.keys import (
    MAX_VERIFY_BODY,
    KeyService,
    check_digest,
    parse_json,
    raw_target,
    require_verify_role,
)
from notary.keys import signature

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# What Falcon's JSON media handler writes, without making an encoder per call as json.dumps(**options) does.
_to_json = json.JSONEncoder(ensure_ascii=False).encode
VERIFY_PATH = "/v1/verify"  # also its route label: the path has no parameters
_SCHEME_PREFIX = (signature.SCHEME + " ").encode()
_WANTED = {
    b"host": "host",
    b"date": "date",
    b"digest": "digest",
    b"authorization": "authorization",
    b"content-length": "content_length",
    b"content-type": "content_type",
    b"x-request-id": "request_id",
}


class _Decline(Exception):
    """This layer does not answer the request; Falcon does."""


class VerifyFastPath:
    def __init__(self, app: ASGIApp, service: KeyService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != VERIFY_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received: list[Message] = []
        try:
            answer = await self._verdict(scope, receive, received)
        except Exception:  # whatever went wrong, Falcon redoes the request and answers it
            await self.app(scope, _replaying(received, receive), send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
            (b"x-request-id", answer.request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        record_response(VERIFY_PATH, "POST", 200, time.perf_counter() - started)

    async def _verdict(self, scope: Scope, receive: Receive, received: list[Message]) -> _Answer:
        fields = _headers(scope)
        authorization = fields.get("authorization")
        if authorization is None or not authorization.startswith(_SCHEME_PREFIX):
            raise _Decline  # no caller key: a token caller, or a refusal Falcon words
        if fields.get("content_type", b"").split(b";")[0].strip().lower() != b"application/json":
            raise _Decline
        length = int(fields.get("content_length", b"-1"))
        if not 0 <= length <= MAX_VERIFY_BODY:
            raise _Decline
        signed = signature.SignedRequest(
            method="POST",
            uri=raw_target(scope),
            host=_text(fields.get("host")),
            date=_text(fields.get("date")),
            digest=_text(fields.get("digest")),
            authorization=authorization.decode("latin-1"),
        )
        caller = await self.service.caller_key(signed)  # from the headers, before the body is read
        require_verify_role(caller)
        body = await _body(receive, received, length)
        check_digest(signed, body)
        request_id = request_id_for(_text(fields.get("request_id")))
        verdict = await self.service.verifier.verdict(parse_json(body), int(time.time() * 1000))
        return _Answer(_to_json(verdict).encode(), request_id)


class _Answer:
    __slots__ = ("body", "request_id")

    def __init__(self, body: bytes, request_id: str) -> None:
        self.body = body
        self.request_id = request_id


def _headers(scope: Scope) -> dict[str, bytes]:
    """The headers this layer reads; a repeated one is Falcon's to interpret."""
    fields: dict[str, bytes] = {}
    for name, value in scope["headers"]:
        field = _WANTED.get(name)
        if field is not None:
            if field in fields:
                raise _Decline
            fields[field] = value
    return fields


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def _body(receive: Receive, received: list[Message], length: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            raise _Decline  # the client went away: Falcon sees that too
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > length:
            raise _Decline
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if size != length:
        raise _Decline
    return b"".join(chunks)


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """``receive`` as if nothing had been read from it yet."""
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
