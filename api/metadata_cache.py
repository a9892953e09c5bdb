"""A per-process cache of served metadata: warm reads cost no database and no Redis round trip.

Correctness across processes and hosts comes from the write side (workers/cache_invalidation.py): a writer
waits until every live API process has forgotten the changed GUN before its client is answered. This module
is the API process's half: it listens for changes, acknowledges each after forgetting the GUN, pings itself
through the same subscription, and uses the cache only while it is demonstrably keeping up.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cached_property

import redis.asyncio as aioredis

from workers.cache_invalidation import (
    ACK_KEY,
    ACK_TTL_SECONDS,
    CHANGES_CHANNEL,
    LIVE_SECONDS,
    PING_CHANNEL,
    PING_SECONDS,
    PROCESSES_KEY,
)

log = logging.getLogger("notary.cache")
MAX_GENERATIONS = 100_000
CLOSE_SECONDS = 2.0


@dataclass(frozen=True)
class CachedFile:
    data: bytes
    sha256: str
    last_modified: datetime
    expires: datetime | None  # set for the current timestamp and snapshot, whose freshness is checked

    @cached_property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    @cached_property
    def last_modified_header(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)


Key = tuple[str, str, str]  # (gun, addressing, selector)


class MetadataCache:
    def __init__(self, redis_client: aioredis.Redis, max_entries: int = 50_000) -> None:
        self.redis = redis_client
        self.max_entries = max_entries
        self.process = uuid.uuid4().hex
        self._entries: OrderedDict[Key, CachedFile] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0
        self._live_until = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._forget_hooks: list[Callable[[str | None], None]] = []

    def on_forget(self, hook: Callable[[str | None], None]) -> None:
        """Other per-process caches (the shared-key cache) forget with this one: ``hook(name)`` for one
        changed name, ``hook(None)`` when everything must go."""
        self._forget_hooks.append(hook)

    def start(self) -> None:
        if not self._tasks or any(task.done() for task in self._tasks):
            for task in self._tasks:
                task.cancel()
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._listen(), context=contextvars.Context()),
                loop.create_task(self._ping(), context=contextvars.Context()),
            ]

    @property
    def live(self) -> bool:
        return time.monotonic() < self._live_until

    def generation(self, gun: str) -> tuple[int, int]:
        return self._epoch, self._generations.get(gun, 0)

    def get(self, key: Key) -> CachedFile | None:
        if not self.live:
            return None
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: Key, value: CachedFile, generation: tuple[int, int]) -> None:
        """Store a value read while the GUN was at ``generation`` (taken before the read): if a change
        arrived meanwhile, the value may predate it and is dropped."""
        if not self.live or self.generation(key[0]) != generation:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, gun: str) -> None:
        if len(self._generations) >= MAX_GENERATIONS:
            # Every renewed or revoked key adds a name; forgetting all is always safe, and bounds memory.
            self._reset_generations()
        self._generations[gun] = self._generations.get(gun, 0) + 1
        for key in [key for key in self._entries if key[0] == gun]:
            del self._entries[key]
        for hook in self._forget_hooks:
            hook(gun)

    def _forget_everything(self) -> None:
        self._live_until = 0.0
        self._reset_generations()

    def _reset_generations(self) -> None:
        """Forget every entry and start a new epoch: a load that began before can no longer be stored, since
        its generation was read in the old epoch (this also covers names never seen before)."""
        self._epoch += 1
        self._generations.clear()
        self._entries.clear()
        for hook in self._forget_hooks:
            hook(None)

    async def _listen(self) -> None:
        own_pings = PING_CHANNEL.format(process=self.process)
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANGES_CHANNEL, own_pings)
                    async for message in pubsub.listen():
                        if message["type"] != "message":
                            continue
                        channel = message["channel"]
                        channel = channel.decode() if isinstance(channel, bytes) else channel
                        if channel == own_pings:
                            # The ping's send time: everything published before it has now been processed.
                            self._live_until = float(message["data"]) + LIVE_SECONDS
                        else:
                            await self._apply_change(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("metadata cache lost its change feed; serving from the database until it is back")
            self._forget_everything()
            await asyncio.sleep(PING_SECONDS)

    async def _apply_change(self, data: bytes | str) -> None:
        change = json.loads(data)
        for gun in change["guns"]:
            self.forget(gun)
        ack = ACK_KEY.format(change=change["change"])
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(ack, self.process)
            pipe.expire(ack, ACK_TTL_SECONDS)
            await pipe.execute()

    async def _ping(self) -> None:
        own_pings = PING_CHANNEL.format(process=self.process)
        while True:
            try:
                seconds, microseconds = await self.redis.time()
                await self.redis.zadd(
                    PROCESSES_KEY, {self.process: int(seconds) * 1000 + int(microseconds) // 1000}
                )
                await self.redis.publish(own_pings, repr(time.monotonic()))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("metadata cache cannot reach Redis to stay live")
            await asyncio.sleep(PING_SECONDS)

    async def close(self) -> None:
        """Stop listening and leave the registry; bounded, because tearing down a cancelled subscription can
        wait on a socket that never answers, and shutdown must not hang on it."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=CLOSE_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.redis.zrem(PROCESSES_KEY, self.process), CLOSE_SECONDS)
