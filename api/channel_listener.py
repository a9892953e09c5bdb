"""One Redis pattern subscription per API process, handing each message to a callback.

Workers announce what API processes wait for (a finished job, a task's reply) on channels under one pattern;
a process keeps ONE subscription per pattern however many requests wait. A lost connection is re-made after a
second; messages published meanwhile are lost, so every waiter has a fallback (polling what was announced).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

log = logging.getLogger("notary.api")
RECONNECT_SECONDS = 1.0


class PatternListener:
    def __init__(
        self, redis_client: aioredis.Redis, pattern: str, on_message: Callable[[str, bytes], None]
    ) -> None:
        """``on_message(suffix, data)``: ``suffix`` is the channel's part after the pattern's ``*``."""
        self.redis = redis_client
        self.pattern = pattern
        self.prefix = pattern.removesuffix("*")
        self.on_message = on_message
        self._subscribed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            # A fresh context: the listener outlives the request that started it and must not log its id.
            self._task = asyncio.get_running_loop().create_task(self._listen(), context=contextvars.Context())

    async def subscribed(self, timeout: float) -> bool:
        """Start listening and wait until the subscription is in place (so a message published from now on
        is seen); False if Redis did not confirm it within ``timeout``."""
        self.ensure_started()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        return self._subscribed.is_set()

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(self.pattern)
                    async for message in pubsub.listen():
                        kind = message.get("type")
                        if kind == "psubscribe":
                            self._subscribed.set()
                        elif kind == "pmessage":
                            channel = message["channel"]
                            name = channel.decode() if isinstance(channel, bytes) else channel
                            self.on_message(name.removeprefix(self.prefix), message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "lost the Redis subscription; waiters fall back to polling",
                    extra={"pattern": self.pattern},
                )
                self._subscribed.clear()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
