"""A real HTTP server on 127.0.0.1 that plays a Notary server's bulk-publishing side from a script.

    server.on("GET", "/v1/jobs/j1", Reply(503, headers={"Retry-After": "7"}), Reply(200, job("j1", ...)))

Each request gets the next scripted reply for its method and path (the last one repeats); every request is
recorded with its headers and body. Unscripted routes answer notary's 404 envelope.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tests.unit.client.servers import _Base, _Handler

NOT_FOUND = {
    "errors": [{"code": "METADATA_NOT_FOUND", "message": "You have requested metadata that does not exist."}]
}


@dataclass(frozen=True)
class Reply:
    status: int
    document: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer(_Base):
    def __init__(self) -> None:
        super().__init__()
        self._script: dict[tuple[str, str], list[Reply]] = defaultdict(list)
        self.seen: list[Seen] = []

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self._script[(method, path)].extend(replies)

    def handle(self, handler: _Handler) -> None:
        self.seen.append(
            Seen(handler.command, handler.path, dict(handler.headers.items()), handler._read_body())
        )
        queue = self._script.get((handler.command, handler.path.partition("?")[0]))
        reply = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else Reply(404, NOT_FOUND)
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.document is None:
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        payload = json.dumps(reply.document).encode()
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.method == method and seen.target.partition("?")[0] == path]


def job(
    job_id: str, state: str, progress: tuple[int, int, int] | None = None, **extra: Any
) -> dict[str, Any]:
    """A job document as ``GET /v1/jobs/{id}`` answers it; ``progress`` is (done, total, failed)."""
    document: dict[str, Any] = {"id": job_id, "kind": "bulk.publish", "state": state, **extra}
    if progress is not None:
        done, total, failed = progress
        document["progress"] = {"done": done, "total": total, "failed": failed}
    return document


def published(gun: str, version: int = 1) -> dict[str, Any]:
    return {"gun": gun, "state": "published", "version": version}


def failed(gun: str, code: str, message: str) -> dict[str, Any]:
    return {"gun": gun, "state": "failed", "error": {"code": code, "message": message}}
