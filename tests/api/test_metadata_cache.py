"""The API process's half of cache invalidation, against a real Redis: acknowledgements and liveness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from api.metadata_cache import CachedFile, MetadataCache
from tests.support.servers import RedisServer
from workers.cache_invalidation import announce_change

ENTRY = CachedFile(b"data", "0" * 64, datetime(2026, 1, 1, tzinfo=UTC), None)
KEY = ("gun/a", "current", "targets\x00")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer.start(tmp_path / "redis")
    yield server.url
    server.stop()


async def live_cache(url: str) -> MetadataCache:
    cache = MetadataCache(aioredis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5))
    cache.start()
    for _ in range(200):
        if cache.live:
            return cache
        await asyncio.sleep(0.02)
    raise AssertionError("the cache never became live")


def test_a_change_is_acknowledged_after_the_gun_is_forgotten(redis_url: str) -> None:
    async def scenario() -> tuple[int, CachedFile | None]:
        cache = await live_cache(redis_url)
        cache.put(KEY, ENTRY, cache.generation("gun/a"))
        assert cache.get(KEY) == ENTRY
        acknowledged = await asyncio.to_thread(
            announce_change, redis.Redis.from_url(redis_url, socket_timeout=10), "gun/a"
        )
        after = cache.get(KEY)
        await cache.close()
        return acknowledged, after

    acknowledged, after = asyncio.run(scenario())
    assert acknowledged == 1
    assert after is None


def test_a_cache_whose_listener_stalls_stops_serving(redis_url: str) -> None:
    async def scenario() -> tuple[bool, int, CachedFile | None]:
        cache = await live_cache(redis_url)
        cache.put(KEY, ENTRY, cache.generation("gun/a"))
        cache._tasks[0].cancel()  # the listener stops; pings are still sent but nobody reads them
        acknowledged = await asyncio.to_thread(
            announce_change, redis.Redis.from_url(redis_url, socket_timeout=10), "gun/a"
        )
        # The writer gave up waiting only after the liveness window, so the entry is no longer served.
        stale = cache.get(KEY)
        await cache.close()
        return cache.live, acknowledged, stale

    live, acknowledged, stale = asyncio.run(scenario())
    assert acknowledged == 0
    assert not live
    assert stale is None


def test_a_read_that_raced_with_a_change_is_not_stored(redis_url: str) -> None:
    async def scenario() -> CachedFile | None:
        cache = await live_cache(redis_url)
        generation = cache.generation("gun/a")  # taken before the (slow) database read
        await asyncio.to_thread(announce_change, redis.Redis.from_url(redis_url, socket_timeout=10), "gun/a")
        cache.put(KEY, ENTRY, generation)  # the read finished after the change: it may predate it
        found = cache.get(KEY)
        await cache.close()
        return found

    assert asyncio.run(scenario()) is None


def test_a_load_begun_before_a_reconnect_is_not_stored(redis_url: str) -> None:
    """Names never seen before have generation 0 on both sides of a reset; the epoch tells them apart."""

    async def scenario() -> CachedFile | None:
        cache = await live_cache(redis_url)
        generation = cache.generation("never/seen")  # the (slow) load starts...
        cache._reset_generations()  # ...the subscription drops and comes back meanwhile
        await live_cache_again(cache)
        cache.put(("never/seen", "current", "targets\x00"), ENTRY, generation)
        found = cache.get(("never/seen", "current", "targets\x00"))
        await cache.close()
        return found

    assert asyncio.run(scenario()) is None


def test_forgotten_names_stay_bounded(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.metadata_cache.MAX_GENERATIONS", 10)

    async def scenario() -> int:
        cache = await live_cache(redis_url)
        for n in range(1000):
            cache.forget(f"key:{n}")
        size = len(cache._generations)
        await cache.close()
        return size

    assert asyncio.run(scenario()) <= 10


async def live_cache_again(cache: MetadataCache) -> None:
    for _ in range(200):
        if cache.live:
            return
        await asyncio.sleep(0.02)
