"""Sign outgoing requests with a Notary shared key (``Rapid7-HMAC-V1-SHA256``, shared-keys.md section 5).

    session.get(url, auth=NotaryRequestsAuth(identity, secret))     # requests
    httpx.get(url, auth=NotaryHttpxAuth(identity, secret))          # httpx (sync or async client)

Each request gets ``Date`` (integer epoch milliseconds), ``Digest`` (``SHA256=`` of the exact body bytes,
the empty body included) and ``Authorization``, computed by ``notary.keys.signature.sign_request`` over the
method, the request target exactly as it goes on the wire and the Host header the client sends.

The secret is kept in a private attribute and never appears in a ``repr``, a log line or an exception message.

``NotaryHttpxAuth`` is a plain callable (httpx's documented ``auth=callable`` form) rather than an
``httpx.Auth`` subclass: ``notary`` may not import httpx (tests/unit/test_layering.py). httpx has already read
a body given as ``content=``/``data=``/``json=``; a sync streaming body is read here. An async streaming body
cannot be read from a sync callable, so build the request, ``await request.aread()``, then ``client.send`` it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Final, Protocol, TypeVar
from urllib.parse import urlsplit

from requests import PreparedRequest
from requests.auth import AuthBase

from notary.keys.signature import sign_request

Clock = Callable[[], float]
"""Seconds since the epoch, like ``time.time``."""

DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
_IDENTITY: Final = re.compile(r"[!-9;-~]+")  # visible ASCII without ':' (the Authorization separator)


class NotarySigner:
    """A shared key (identity and secret) that signs one request's fields; library-neutral."""

    def __init__(self, identity: str, secret: str, clock: Clock = time.time) -> None:
        if not isinstance(identity, str) or not _IDENTITY.fullmatch(identity):
            raise ValueError("the identity must be non-empty visible ASCII without ':'")
        if not isinstance(secret, str) or not secret:
            raise ValueError("the secret must be a non-empty string")
        self._identity = identity
        self.__secret = secret
        self._clock = clock

    @property
    def identity(self) -> str:
        return self._identity

    def signed_headers(self, method: str, target: str, host: str, body: bytes) -> dict[str, str]:
        """``Date``, ``Digest`` and ``Authorization`` for this request, dated now by the clock."""
        now_ms = int(self._clock() * 1000)
        return sign_request(method, target, host, body, self._identity, self.__secret, now_ms)

    def _copy_as(self, cls: type[_S]) -> _S:
        return cls(self._identity, self.__secret, self._clock)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(identity={self._identity!r}, secret=<redacted>)"


_S = TypeVar("_S", bound=NotarySigner)


# --- requests ---------------------------------------------------------------------------------------------


def host_from_url(url: str) -> str:
    """The Host header for ``url``: host and port as in the URL, without user info and without the scheme's
    default port (what http.client, urllib3 and httpx send)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):  # an IPv6 literal: [::1]:8443
        end = netloc.find("]") + 1
        host, port = netloc[:end], netloc[end:].removeprefix(":")
    else:
        host, _, port = netloc.partition(":")
    if not host:
        raise ValueError("the URL has no host")
    if not port or port == DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


def _chunk_bytes(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    raise TypeError(f"cannot sign a request body made of {type(chunk).__name__}")


def _body_bytes(body: object) -> bytes:
    """A prepared body as the bytes urllib3 will send (str bodies go out as UTF-8); files and iterators are
    read to the end."""
    if body is None:
        return b""
    if isinstance(body, str | bytes | bytearray | memoryview):
        return _chunk_bytes(body)
    read = getattr(body, "read", None)
    if callable(read):
        return _chunk_bytes(read())
    if isinstance(body, Iterable):
        return b"".join(_chunk_bytes(chunk) for chunk in body)
    raise TypeError(f"cannot sign a request body of type {type(body).__name__}")


def _header_text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class NotaryRequestsAuth(NotarySigner, AuthBase):
    """``requests`` auth: signs the prepared request as it will be sent.

    The target is ``PreparedRequest.path_url`` (what requests puts on the request line unless it talks to a
    plain-HTTP proxy, which forwards that same origin-form target). The Host header is set explicitly (unless
    the caller set one) so that what is signed is what is sent. A streaming body (file or iterator) is read
    and replaced by its bytes, since the digest covers the whole body.
    """

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        if r.method is None or r.url is None:
            raise ValueError("the request is not prepared")
        body = _body_bytes(r.body)
        if r.body is not None and not isinstance(r.body, bytes):
            r.body = body
            r.headers.pop("Transfer-Encoding", None)
            r.headers["Content-Length"] = str(len(body))
        host = r.headers.get("Host")
        if host is None:
            host = host_from_url(r.url)
            r.headers["Host"] = host
        r.headers.update(self.signed_headers(r.method, r.path_url, _header_text(host), body))
        return r

    @classmethod
    def of(cls, signer: NotarySigner) -> NotaryRequestsAuth:
        """The same key as a ``requests`` auth (``signer`` itself when it already is one)."""
        return signer if isinstance(signer, NotaryRequestsAuth) else signer._copy_as(cls)


class BearerTokenAuth(AuthBase):
    """``requests`` auth sending ``Authorization: Bearer <token>`` (the other way to call ``/v1/verify``)."""

    def __init__(self, token: str) -> None:
        if not token or any(c in token for c in "\r\n"):
            raise ValueError("the token must be a non-empty single line")
        self.__token = token

    def __call__(self, r: PreparedRequest) -> PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.__token}"
        return r

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=<redacted>)"


# --- httpx (duck-typed: notary may not import httpx) -------------------------------------------------------


class _HttpxURL(Protocol):
    @property
    def raw_path(self) -> bytes: ...


class HttpxRequestLike(Protocol):
    """The part of ``httpx.Request`` that signing uses."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> _HttpxURL: ...

    @property
    def headers(self) -> MutableMapping[str, str]: ...

    def read(self) -> bytes: ...


_R = TypeVar("_R", bound=HttpxRequestLike)


class NotaryHttpxAuth(NotarySigner):
    """``httpx`` auth (pass it as ``auth=``): signs ``request.url.raw_path`` (the wire target), the Host
    header httpx set when it built the request (port only when not the default), and the exact body bytes.

    A streamed body is read into memory and then sent with a Content-Length instead of chunked.
    """

    requires_request_body = True  # what it needs; httpx wraps a callable auth in its FunctionAuth

    def __call__(self, request: _R) -> _R:
        try:
            body = request.read()
        except (AssertionError, TypeError, RuntimeError):
            # httpx asserts the stream is sync; an async stream must be read with ``await request.aread()``.
            raise TypeError(
                "NotaryHttpxAuth cannot read an async streaming body: await request.aread() before sending"
            ) from None
        if "transfer-encoding" in request.headers:  # a streamed body, now in memory: send it with its length
            del request.headers["transfer-encoding"]
            request.headers["content-length"] = str(len(body))
        host = request.headers.get("host")
        if not host:
            raise ValueError("the request has no Host header")
        target = request.url.raw_path.decode("ascii")
        request.headers.update(self.signed_headers(request.method, target, host, body))
        return request
