"""``GET /_notary_server/health``: 200 ``{}`` when the database and the broker answer, else 503 naming the
failing checks, as notary-server does. A missing signer is logged but stays healthy: reads still work."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import falcon
import falcon.asgi
import redis.asyncio as aioredis
from prometheus_client import Gauge

from models.db import Database
from workers.heartbeat import HEARTBEAT_KEY

log = logging.getLogger("notary.health")
CHECK_TIMEOUT_SECONDS = 3.0
SIGNER_UP = Gauge(
    "notary_signer_up",
    "1 when a signer heartbeat was seen at the last health check",
    multiprocess_mode="mostrecent",
)


class HealthResource:
    def __init__(self, database: Database, redis_client: aioredis.Redis) -> None:
        self.database = database
        self.redis = redis_client

    async def _check(self, name: str, probe: Callable[[], Awaitable[object]]) -> tuple[str, str | None]:
        try:
            await asyncio.wait_for(probe(), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:
            log.error("health check failed", extra={"check": name, "error": type(exc).__name__})
            return name, "unavailable"
        return name, None

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        results = await asyncio.gather(
            self._check("DB operational", lambda: asyncio.to_thread(self.database.ping)),
            self._check("Broker operational", self.redis.ping),
        )
        failures = {name: problem for name, problem in results if problem is not None}
        if not failures:
            await self._note_signer()
        resp.status = falcon.HTTP_503 if failures else falcon.HTTP_200
        resp.content_type = "application/json; charset=utf-8"
        resp.data = json.dumps(failures).encode()

    async def _note_signer(self) -> None:
        try:
            signer_up = bool(await self.redis.exists(HEARTBEAT_KEY))
        except Exception:
            signer_up = False
        SIGNER_UP.set(1 if signer_up else 0)
        if not signer_up:
            log.warning("no signer heartbeat: uploads and key requests will fail until a signer runs")
