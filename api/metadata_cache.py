"""A per-process cache of served metadata, so warm reads cost no database round trip.

Correctness across processes: every commit publishes the GUN on ``notary:tuf:changed``; each API process
listens and forgets that GUN. The cache is used only while the listener is subscribed: before the first
subscription, and after any lost connection, it is cleared and bypassed until the listener is back (a change
published meanwhile would otherwise be missed). A read that raced with a change is not stored: entries are
put only if the GUN's generation did not move while the read was under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis

log = logging.getLogger("notary.cache")
CHANGES_CHANNEL = "notary:tuf:changed"


@dataclass(frozen=True)
class CachedFile:
    data: bytes
    sha256: str
    last_modified: datetime
    expires: datetime | None  # set for the current timestamp and snapshot, whose freshness is checked


Key = tuple[str, str, str]  # (gun, addressing, selector)


class MetadataCache:
    def __init__(self, redis_client: aioredis.Redis, max_entries: int = 50_000) -> None:
        self.redis = redis_client
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, CachedFile] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._live = False
        self._listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._listener is None or self._listener.done():
            loop = asyncio.get_running_loop()
            self._listener = loop.create_task(self._listen(), context=contextvars.Context())

    def generation(self, gun: str) -> tuple[int, int]:
        return self._epoch, self._generations.get(gun, 0)

    def get(self, key: Key) -> CachedFile | None:
        if not self._live:
            return None
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: Key, value: CachedFile, seen: tuple[int, int]) -> None:
        if not self._live or self.generation(key[0]) != seen:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, gun: str) -> None:
        self._generations[gun] = self._generations.get(gun, 0) + 1
        for key in [key for key in self._entries if key[0] == gun]:
            del self._entries[key]

    def _reset(self, live: bool) -> None:
        self._entries.clear()
        self._generations.clear()
        self._epoch += 1
        self._live = live

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANGES_CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "subscribe":
                            self._reset(live=True)
                        elif message["type"] == "message":
                            data = message["data"]
                            self.forget(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("metadata cache lost its change feed; bypassing the cache until it is back")
            self._reset(live=False)
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
