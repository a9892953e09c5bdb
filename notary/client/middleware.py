"""Verify every incoming request through Notary before the application sees it (shared-keys.md sections 6, 8).

    app = VerifyingMiddleware(app, "https://notary.internal",
                              caller_auth=NotaryRequestsAuth(my_id, my_secret),
                              required_roles=("billing:read",))

For each request: the body is read (at most ``max_body`` bytes: 413 past it, judged from ``CONTENT_LENGTH``
before reading), the scheme's local checks run with the Digest against that body (``check_locally``: 400/401
without asking Notary), then Notary's ``POST /v1/verify`` decides. A valid request reaches the application
with ``environ["notary.identity"]``, ``environ["notary.roles"]`` (a tuple), ``environ["notary.verified"]``
(the whole ``Verified``) and the body restored in a fresh ``wsgi.input``; a missing required role is 403.
Anything else is answered here with ``{"errors": [{"code", "message"}]}``: Notary's code for a refusal, 503
``NOTARY_UNAVAILABLE`` when Notary cannot be asked. Nothing passes unverified.

The request target signed by the client is the raw one: gunicorn's ``RAW_URI``, else ``REQUEST_URI`` (uWSGI,
mod_wsgi), else ``SCRIPT_NAME + PATH_INFO`` re-quoted plus ``QUERY_STRING`` (a server that gives neither has
decoded the path, so a client that percent-encoded characters that need none will not verify there).

``FalconVerifyingMiddleware`` does the same as a Falcon (WSGI) middleware; it follows Falcon's middleware
protocol without importing falcon (``notary`` may not, tests/unit/test_layering.py).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from notary.client.verifier import (
    CallerAuth,
    NotaryVerifier,
    VerificationError,
    Verified,
    authorize,
)
from notary.keys.signature import SCHEME, SignedRequest

DEFAULT_MAX_BODY: Final = 10 * 1024 * 1024
PAYLOAD_TOO_LARGE: Final = "PAYLOAD_TOO_LARGE"
LENGTH_REQUIRED: Final = "LENGTH_REQUIRED"
MALFORMED_REQUEST: Final = "MALFORMED_REQUEST"
_READ_CHUNK: Final = 64 * 1024
_PATH_SAFE: Final = "/:@!$&'()*+,;=~"  # RFC 3986 pchar delimiters, kept as they are


def raw_request_uri(environ: WSGIEnvironment) -> str:
    """The request target as the client sent it (see the module docstring for the fallback)."""
    query = str(environ.get("QUERY_STRING", ""))
    for key in ("RAW_URI", "REQUEST_URI"):
        raw = environ.get(key)
        if raw:
            raw = str(raw)
            # falcon.testing (unlike gunicorn) puts only the path in RAW_URI; the query is still raw there.
            return f"{raw}?{query}" if query and "?" not in raw else raw
    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    try:
        raw_path = path.encode("latin-1")  # PEP 3333: native strings carry the bytes as latin-1
    except UnicodeEncodeError:
        raw_path = path.encode("utf-8")
    target = quote(raw_path, safe=_PATH_SAFE) or "/"
    return f"{target}?{query}" if query else target


def _read_exactly(stream: Any, length: int) -> bytes:
    chunks: list[bytes] = []
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, _READ_CHUNK))
        if not chunk:
            raise VerificationError(400, MALFORMED_REQUEST, "The request body is shorter than Content-Length")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_to_end(stream: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> VerificationError:
    return VerificationError(413, PAYLOAD_TOO_LARGE, f"The request body is larger than {limit} bytes")


def read_body(environ: WSGIEnvironment, max_body: int) -> bytes:
    """The request body, at most ``max_body`` bytes; without a Content-Length only a body the server marks as
    terminated (``wsgi.input_terminated``, e.g. gunicorn's chunked requests) is read."""
    stream = environ["wsgi.input"]
    raw_length = str(environ.get("CONTENT_LENGTH") or "").strip()
    if raw_length:
        if not (raw_length.isascii() and raw_length.isdigit()):
            raise VerificationError(400, MALFORMED_REQUEST, "Invalid Content-Length")
        length = int(raw_length)
        if length > max_body:
            raise _too_large(max_body)
        return _read_exactly(stream, length)
    if environ.get("wsgi.input_terminated"):
        return _read_to_end(stream, max_body)
    if "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        raise VerificationError(411, LENGTH_REQUIRED, "A Content-Length is required")
    return b""


def signed_request(environ: WSGIEnvironment) -> SignedRequest:
    """What the client sent, raw, for the scheme."""

    def header(name: str) -> str | None:
        value = environ.get(name)
        return None if value is None else str(value)

    return SignedRequest(
        method=header("REQUEST_METHOD"),
        uri=raw_request_uri(environ),
        host=header("HTTP_HOST"),
        date=header("HTTP_DATE"),
        digest=header("HTTP_DIGEST"),
        authorization=header("HTTP_AUTHORIZATION"),
    )


def verify_environ(
    environ: WSGIEnvironment, verifier: NotaryVerifier, *, required_roles: Iterable[str], max_body: int
) -> Verified:
    """Verify the request in ``environ``; on success set the ``notary.*`` keys and restore the body.

    Raises VerificationError with the answer to give otherwise.
    """
    body = read_body(environ, max_body)
    # Restore the body first: whatever happens next, the stream stays readable for the application.
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    verified = authorize(verifier, signed_request(environ), body, required_roles)
    environ["notary.identity"] = verified.identity
    environ["notary.roles"] = verified.roles
    environ["notary.verified"] = verified
    return verified


def error_response(error: VerificationError) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and JSON body for a refused request."""
    body = json.dumps(error.to_body()).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if error.status == 401:
        headers.append(("WWW-Authenticate", SCHEME))
    return f"{error.status} {_REASONS.get(error.status, 'Error')}", headers, body


_REASONS: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    411: "Length Required",
    413: "Content Too Large",
    503: "Service Unavailable",
}


class VerifyingMiddleware:
    """WSGI middleware: only requests Notary verifies (and that hold ``required_roles``) reach ``app``.

    ``verifier`` shares one ``NotaryVerifier`` between middlewares (``notary_url``, ``caller_auth`` and
    ``timeout`` are then unused).
    """

    def __init__(
        self,
        app: WSGIApplication,
        notary_url: str,
        *,
        caller_auth: CallerAuth,
        required_roles: Iterable[str] = (),
        timeout: float = 5.0,
        max_body: int = DEFAULT_MAX_BODY,
        verifier: NotaryVerifier | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier or NotaryVerifier(notary_url, caller_auth=caller_auth, timeout=timeout)
        self.required_roles = tuple(required_roles)
        self.max_body = max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            verify_environ(environ, self.verifier, required_roles=self.required_roles, max_body=self.max_body)
        except VerificationError as error:
            status, headers, body = error_response(error)
            start_response(status, headers)
            return [body]
        return self.app(environ, start_response)


class FalconVerifyingMiddleware:
    """Falcon WSGI middleware (``falcon.App(middleware=[...])``): the same checks in ``process_request``.

    A refused request is answered at once (``resp.complete``). A valid one has
    ``req.context.notary_identity``, ``req.context.notary_roles``, the ``notary.*`` keys in ``req.env``,
    and its body readable again.
    """

    def __init__(
        self,
        notary_url: str,
        *,
        caller_auth: CallerAuth,
        required_roles: Iterable[str] = (),
        timeout: float = 5.0,
        max_body: int = DEFAULT_MAX_BODY,
        verifier: NotaryVerifier | None = None,
    ) -> None:
        self.verifier = verifier or NotaryVerifier(notary_url, caller_auth=caller_auth, timeout=timeout)
        self.required_roles = tuple(required_roles)
        self.max_body = max_body

    def process_request(self, req: Any, resp: Any) -> None:
        """``req``/``resp`` are ``falcon.Request``/``falcon.Response`` (not imported: see the module doc)."""
        try:
            verified = verify_environ(
                req.env, self.verifier, required_roles=self.required_roles, max_body=self.max_body
            )
        except VerificationError as error:
            status, headers, body = error_response(error)
            resp.status = status
            for name, value in headers:
                if name != "Content-Length":
                    resp.set_header(name, value)
            resp.data = body
            resp.complete = True
            return
        finally:
            req.stream = req.env["wsgi.input"]  # Falcon took req.stream from wsgi.input when it built req
        req.context.notary_identity = verified.identity
        req.context.notary_roles = verified.roles
