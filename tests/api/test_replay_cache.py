"""api.replay_cache against a real Redis: a verified (identity, signature) pair is accepted once, remembered
only while its Date is within the skew window, and an unreachable Redis never lets a request through."""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis.asyncio as aioredis

from api.replay_cache import KEY_PREFIX, ReplayCache
from notary import errors
from notary.keys.signature import Claim
from tests.support.servers import RedisServer

SKEW_MS = 300_000
NOW_MS = 1_700_000_000_000


def claim(signature: str, date_ms: int = NOW_MS) -> Claim:
    return Claim(identity="aWRlbnRpdHk=", signature=signature, date_ms=date_ms, challenge=b"")


def test_a_pair_is_accepted_once_and_forgotten_with_the_skew_window(redis_server: RedisServer) -> None:
    async def scenario() -> tuple[list[bool], list[int]]:
        client = aioredis.Redis.from_url(redis_server.url.rpartition("/")[0] + "/9")  # a database of its own
        await client.flushdb()
        cache = ReplayCache(client, SKEW_MS)
        old = claim("old-signature", date_ms=NOW_MS - SKEW_MS + 5_000)  # 5 s left in the window
        uses = [
            await cache.first_use(claim("signature-1"), NOW_MS),
            await cache.first_use(claim("signature-1"), NOW_MS + 1),
            await cache.first_use(claim("signature-2"), NOW_MS),
            await cache.first_use(old, NOW_MS),
        ]
        ttls = [await client.pttl(name) async for name in client.scan_iter(KEY_PREFIX + "*")]
        await client.aclose()
        return uses, sorted(ttls)

    uses, ttls = asyncio.run(scenario())
    assert uses == [True, False, True, True]
    assert len(ttls) == 3
    assert 0 < ttls[0] <= 6_000, "the old request is remembered only until the skew check refuses it"
    assert 300_000 < ttls[-1] <= 301_000


def test_an_unreachable_redis_fails_closed() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"

        async def scenario() -> None:
            client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
            try:
                await ReplayCache(client, SKEW_MS).first_use(claim("signature"), NOW_MS)
            finally:
                await client.aclose()

        with pytest.raises(errors.ReplayCacheUnavailableError):
            asyncio.run(scenario())
