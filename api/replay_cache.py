"""The optional replay cache (``keys.replay_cache``, shared-keys.md section 6): a verified (identity,
signature) pair is accepted once. Shared by every API process through Redis (``SET NX PX``), and remembered
only for as long as the request's Date stays within the skew window, after which the skew check alone
refuses it. The caller checks the signature first, so only genuine signatures take up room."""

from __future__ import annotations

import hashlib
from typing import Final

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from notary import errors
from notary.keys.signature import Claim

REPLAYED: Final = "REPLAYED_SIGNATURE"
REPLAYED_MESSAGE: Final = "This signature was already presented within the allowed clock skew"
KEY_PREFIX: Final = "notary:replay:"
# API hosts' clocks differ a little: remember a pair slightly past the moment this host stops accepting it.
CLOCK_MARGIN_MS: Final = 1000


class ReplayCache:
    def __init__(self, redis: aioredis.Redis, skew_ms: int) -> None:
        self.redis = redis
        self.skew_ms = skew_ms

    async def first_use(self, claim: Claim, now_ms: int) -> bool:
        """Record ``claim`` (already verified); False when it was recorded before and is still remembered.
        Raises ReplayCacheUnavailableError when Redis cannot answer (never a pass)."""
        pair = f"{claim.identity}:{claim.signature}".encode()
        remembered_ms = claim.date_ms + self.skew_ms - now_ms + CLOCK_MARGIN_MS
        try:
            first = await self.redis.set(
                KEY_PREFIX + hashlib.sha256(pair).hexdigest(), b"", nx=True, px=max(1, remembered_ms)
            )
        except RedisError:
            raise errors.ReplayCacheUnavailableError() from None
        return bool(first)
