"""``POST /v1/verify`` served straight from ASGI, in front of the Falcon app.

Verification is the fleet's hot path, and for it the framework's per-request work (request and response
objects, middleware, media handlers) costs more than the verification itself. So this layer answers the
ordinary call, a caller signing with its own key and getting its verdict, with the same functions the
Falcon resource uses (KeyService, Verifier, the request-id and metrics helpers), and hands EVERY other case to
Falcon: another route or method, a token caller, a header or body this layer does not take as is, and any
refusal before the verdict. Falcon then does the whole request again (the body is replayed to it) and answers
as it always does. Once the verdict itself has begun (it may have waited on a peer datacenter or written to
the replay cache) it is not run twice: its error is answered here, in Falcon's envelope (api/errors.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import falcon

from api.errors import ERROR_CONTENT_TYPE, envelope, log_failure
from api.middleware import record_response, request_id_for
from api.resources.keys import (
    MAX_VERIFY_BODY,
    KeyService,
    check_digest,
    parse_json,
    raw_target,
    require_verify_role,
)
from notary.errors import NotaryError
from notary.keys import signature

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# What Falcon's JSON media handler writes, without making an encoder per call as json.dumps(**options) does.
_to_json = json.JSONEncoder(ensure_ascii=False).encode
VERIFY_PATH = "/v1/verify"  # also its route label: the path has no parameters
JSON_TYPE = falcon.MEDIA_JSON.encode()
ERROR_TYPE = ERROR_CONTENT_TYPE.encode()
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
            question, request_id = await self._question(scope, receive, received)
        except Exception:  # whatever went wrong, Falcon redoes the request and answers it
            await self.app(scope, _replaying(received, receive), send)
            return
        try:
            verdict = await self.service.verifier.verdict(question, int(time.time() * 1000))
        except NotaryError as error:
            log_failure(error, VERIFY_PATH)
            await _respond(send, error.status, ERROR_TYPE, envelope(error), request_id, error.headers)
            record_response(VERIFY_PATH, "POST", error.status, time.perf_counter() - started)
            return
        except Exception:  # a bug: Falcon runs it again, and reports and answers it as any other
            await self.app(scope, _replaying(received, receive), send)
            return
        await _respond(send, 200, JSON_TYPE, _to_json(verdict).encode(), request_id)
        record_response(VERIFY_PATH, "POST", 200, time.perf_counter() - started)

    async def _question(self, scope: Scope, receive: Receive, received: list[Message]) -> tuple[Any, str]:
        """The forwarded request to judge and the request id, once the caller is known to be a verifier;
        any refusal raises, for Falcon to answer."""
        fields = _headers(scope)
        request_id = request_id_for(_text(fields.get("request_id")))  # for what is logged from here on
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
        return parse_json(body), request_id


async def _respond(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    request_id: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in extra),
        (b"x-request-id", request_id.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
