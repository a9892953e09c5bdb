"""Whether a signer is alive, from its heartbeat (``workers.heartbeat``).

Work that needs the signer (uploads, ``GET``/``POST .key``, re-signing an expired timestamp) fails fast with
``503 SIGNER_UNAVAILABLE`` before any job is created, rather than waiting out ``jobs.wait_timeout`` for a
job nobody would run (and that would then run, surprisingly, whenever a signer came back). Health and
``/metrics`` report it as ``notary_signer_up`` without turning unhealthy: reads need no signer.
"""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aioredis
from prometheus_client import Gauge

from notary.errors import SignerUnavailableError
from workers.heartbeat import HEARTBEAT_KEY

log = logging.getLogger("notary.signer")
SIGNER_UP = Gauge(
    "notary_signer_up",
    "1 when a signer heartbeat was seen at the last check (health, /metrics, or work needing the signer)",
    multiprocess_mode="mostrecent",
)


class SignerPresence:
    def __init__(self, redis_client: aioredis.Redis) -> None:
        self.redis = redis_client
        self._was_up: bool | None = None

    async def alive(self) -> bool:
        try:
            up = bool(await self.redis.exists(HEARTBEAT_KEY))
        except (redis.RedisError, OSError):
            up = False
        SIGNER_UP.set(1 if up else 0)
        if up != self._was_up:  # log changes only, not every request while the signer is away
            if up:
                log.info("signer heartbeat seen")
            else:
                log.warning("no signer heartbeat: uploads and key requests will fail until a signer runs")
            self._was_up = up
        return up

    async def require(self) -> None:
        if not await self.alive():
            raise SignerUnavailableError()
