"""Every error leaves as notary's envelope ``{"errors":[{"code","message","detail"}]}`` plus a newline.

Unexpected exceptions become a generic 500 ``UNKNOWN`` with no detail: the internals are logged with the
request id (and sent to Bugsnag when configured), never returned.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import falcon
import falcon.asgi

from notary.errors import InternalError, MethodNotAllowedError, NotaryError, NotFoundError

log = logging.getLogger("notary.api")
ERROR_CONTENT_TYPE = "application/json; charset=utf-8"


# The Go client reads at most 1 KiB of an error body; past that it cannot print the specific message.
MAX_ERROR_BODY = 1024


def _shortened(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    if isinstance(value, dict):
        return {key: _shortened(item, limit) for key, item in value.items()}
    if isinstance(value, list):
        return [_shortened(item, limit) for item in value]
    return value


def envelope(error: NotaryError) -> bytes:
    """The error body; client input echoed in ``detail`` is shortened until the body fits in 1 KiB."""
    entry = error.to_dict()
    body = json.dumps({"errors": [entry]}, separators=(",", ":")).encode() + b"\n"
    for limit in (400, 160, 60):
        if len(body) <= MAX_ERROR_BODY or "detail" not in entry:
            return body
        entry["detail"] = _shortened(error.detail, limit)
        body = json.dumps({"errors": [entry]}, separators=(",", ":")).encode() + b"\n"
    if len(body) > MAX_ERROR_BODY:
        entry.pop("detail", None)
        body = json.dumps({"errors": [entry]}, separators=(",", ":")).encode() + b"\n"
    return body


def render(resp: falcon.asgi.Response, error: NotaryError) -> None:
    resp.status = error.status
    resp.content_type = ERROR_CONTENT_TYPE
    resp.data = envelope(error)
    for name, value in error.headers:
        resp.set_header(name, value)
    resp.complete = True


def log_failure(error: NotaryError, path: str) -> None:
    if error.status >= 500:
        log.error("request failed", extra={"code": error.code, "path": path})


def install(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response],
    report: Callable[[BaseException, falcon.asgi.Request], None],
) -> None:
    async def notary_error(
        req: falcon.asgi.Request, resp: falcon.asgi.Response, error: NotaryError, params: dict[str, Any]
    ) -> None:
        log_failure(error, req.path)
        render(resp, error)

    async def http_error(
        req: falcon.asgi.Request, resp: falcon.asgi.Response, error: falcon.HTTPError, params: dict[str, Any]
    ) -> None:
        # Falcon's own errors (e.g. unroutable paths, bad headers) get the same envelope.
        mapped: NotaryError
        if error.status_code == 404:
            mapped = NotFoundError()
        elif error.status_code == 405:
            mapped = MethodNotAllowedError()
        else:
            mapped = NotaryError(error.description, message=error.title)
            mapped.status = error.status_code  # type: ignore[misc]
            mapped.code = "INVALID_REQUEST" if error.status_code < 500 else "UNKNOWN"  # type: ignore[misc]
        render(resp, mapped)
        headers = error.headers or {}
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            resp.set_header(name, value)

    async def unexpected(
        req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params: dict[str, Any]
    ) -> None:
        log.exception("unhandled error", extra={"path": req.path, "method": req.method})
        report(error, req)
        render(resp, InternalError())

    app.add_error_handler(Exception, unexpected)
    app.add_error_handler(falcon.HTTPError, http_error)
    app.add_error_handler(NotaryError, notary_error)
