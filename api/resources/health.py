"""``GET /_notary_server/health``: 200 ``{}`` when the database and the broker answer, else 503 naming the
failing checks, as notary-server does. A missing signer is logged and counted (``api.signer_presence``) but
stays healthy: reads still work."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

import falcon
import falcon.asgi
import redis.asyncio as aioredis

from api.signer_presence import SignerPresence
from models.db import Database

log = logging.getLogger("notary.health")
CHECK_TIMEOUT_SECONDS = 3.0


class HealthResource:
    def __init__(self, database: Database, redis_client: aioredis.Redis, signer: SignerPresence) -> None:
        self.database = database
        self.redis = redis_client
        self.signer = signer

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
            await self.signer.alive()
        resp.status = falcon.HTTP_503 if failures else falcon.HTTP_200
        resp.content_type = "application/json; charset=utf-8"
        resp.data = json.dumps(failures).encode()
