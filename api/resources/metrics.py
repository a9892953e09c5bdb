"""``GET /metrics``: Prometheus text, aggregated over every process when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import asyncio
import os

import falcon.asgi
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from api.signer_presence import SignerPresence


def _exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


class MetricsResource:
    def __init__(self, signer: SignerPresence) -> None:
        self.signer = signer

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.signer.alive()  # notary_signer_up as of this scrape, health checks or not
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = await asyncio.to_thread(_exposition)
