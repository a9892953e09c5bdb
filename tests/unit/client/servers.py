"""Real HTTP servers on 127.0.0.1 for the client tests.

``CaptureServer`` records each request exactly as it arrived (request line, raw target, headers, body) and
answers 200 when ``notary.keys.signature.verify`` accepts it with the known key table, 401 otherwise.

``NotaryStandIn`` plays Notary's ``POST /v1/verify`` (shared-keys.md section 6), the external service from
the SDK's point of view: it authenticates the caller by its own signature (role ``notary:verify``), then
verifies the forwarded fields with ``notary.keys.signature.verify`` against the same key table.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from notary.keys.identity import Identity
from notary.keys.signature import SignatureError, SignedRequest, verify

SKEW_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class Key:
    identity: str
    secret: str
    roles: tuple[str, ...] = ()


CLIENT = Key(
    Identity(dc="test-dc", id="t-0123456789abcdef").encode(),
    "c2VjcmV0LW9mLXRoZS1jbGllbnQtMDEyMzQ1Njc4OWFiY2RlZi0wMTIzNDU2Nzg5YWJjZGVm",
    ("billing:read", "billing:write"),
)
CALLER = Key(
    Identity(dc="test-dc", id="t-fedcba9876543210").encode(),
    "c2VjcmV0LW9mLXRoZS1jYWxsZXItZmVkY2JhOTg3NjU0MzIxMC1mZWRjYmE5ODc2NTQzMjEw",
    ("notary:verify",),
)
KEYS: Mapping[str, Key] = {key.identity: key for key in (CLIENT, CALLER)}


def lookup(identity: str) -> list[str] | None:
    key = KEYS.get(identity)
    return None if key is None else [key.secret]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Captured:
    request_line: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    verified: str | None = None
    error: str | None = None

    def signed(self) -> SignedRequest:
        return SignedRequest.from_headers(self.method, self.target, self.headers)

    def verify(self, body: bytes | None = None) -> str:
        """``verify`` against the key table, over the captured body unless another is given."""
        return verify(
            self.signed(),
            now_ms=now_ms(),
            skew_ms=SKEW_MS,
            lookup=lookup,
            body=self.body if body is None else body,
        )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(self, status: int, document: Any) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _handle(self) -> None:
        self.server.owner.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: _Base


class _Base:
    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, handler: _Handler) -> None:
        raise NotImplementedError


class CaptureServer(_Base):
    def __init__(self) -> None:
        super().__init__()
        self.captured: list[Captured] = []

    def handle(self, handler: _Handler) -> None:
        captured = Captured(
            request_line=handler.requestline,
            method=handler.command,
            target=handler.path,  # http.server leaves the target undecoded
            headers={name: value for name, value in handler.headers.items()},
            body=handler._read_body(),
        )
        self.captured.append(captured)
        try:
            captured.verified = captured.verify()
        except SignatureError as error:
            captured.error = error.code
            handler._answer(error.status, {"errors": [error.to_dict()]})
            return
        handler._answer(200, {"identity": captured.verified, "body": captured.body.decode("latin-1")})

    @property
    def last(self) -> Captured:
        return self.captured[-1]


class NotaryStandIn(_Base):
    def __init__(self) -> None:
        super().__init__()
        self.mode = "normal"  # normal | error500 | not-json | answer:<json>
        self.calls: list[dict[str, Any]] = []  # the verify requests it judged

    def handle(self, handler: _Handler) -> None:
        body = handler._read_body()
        if handler.command != "POST" or handler.path != "/v1/verify":
            handler._answer(404, {"errors": [{"code": "NOT_FOUND", "message": "no such route"}]})
            return
        caller = SignedRequest.from_headers(handler.command, handler.path, dict(handler.headers.items()))
        try:
            identity = verify(caller, now_ms=now_ms(), skew_ms=SKEW_MS, lookup=lookup, body=body)
        except SignatureError as error:
            handler._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": error.code}]})
            return
        if "notary:verify" not in KEYS[identity].roles:
            handler._answer(403, {"errors": [{"code": "FORBIDDEN", "message": "notary:verify"}]})
            return
        fields = json.loads(body)
        self.calls.append(fields)
        if self.mode == "error500":
            handler._answer(500, {"errors": [{"code": "UNKNOWN", "message": "boom"}]})
            return
        if self.mode == "not-json":
            handler.send_response(200)
            handler.send_header("Content-Length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
            return
        if self.mode.startswith("answer:"):
            handler._answer(200, json.loads(self.mode.removeprefix("answer:")))
            return
        handler._answer(200, self.verdict(fields))

    @staticmethod
    def verdict(fields: Mapping[str, Any]) -> dict[str, Any]:
        """Section 6's answer for one forwarded request."""
        request = SignedRequest(**{name: fields.get(name) for name in SignedRequest.__dataclass_fields__})
        try:
            identity = verify(request, now_ms=now_ms(), skew_ms=SKEW_MS, lookup=lookup)
        except SignatureError as error:
            return {"valid": False, "code": error.code, "message": error.message}
        return {
            "valid": True,
            "identity": identity,
            "roles": list(KEYS[identity].roles),
            "expires_at": "2099-01-01T00:00:00Z",
            "ttl": 3600,
        }


@contextmanager
def running(server: _Base) -> Iterator[Any]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just bound and released)."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    return f"http://127.0.0.1:{port}"
