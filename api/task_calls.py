"""Run a Celery task and wait for its answer, for work that needs a worker but no durable job.

Issuing a key needs the instance's roles, which a worker looks up (Politician sits behind the task queue), yet
nothing about the lookup has to outlive the request: if no answer comes in time the request fails and nothing
was written, so the client simply retries. Such a call has no job row: the task gets a random call id and
answers through workers/replies.py; this process wakes the waiter from its one subscription to
``notary:reply:<process tag>:*`` (its own answers only), and a waiter that missed the message reads the stored
answer once a second. An answer counts only if its HMAC (workers/replies.py) checks out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from redis.exceptions import RedisError

from api.channel_listener import PatternListener
from workers.replies import open_reply, reply_channel

log = logging.getLogger("notary.api")

POLL_SECONDS = 1.0
SUBSCRIBE_SECONDS = 2.0


class TaskCalls:
    def __init__(self, celery_app: Celery, redis_client: aioredis.Redis, mac_keys: Sequence[bytes]) -> None:
        self.celery_app = celery_app
        self.redis = redis_client
        self.mac_keys = tuple(mac_keys)
        self._pending: dict[str, asyncio.Queue[bytes]] = {}
        self._tag = secrets.token_hex(8)
        self._listener = PatternListener(redis_client, reply_channel(self._tag + ":*"), self._answer)

    async def call(self, task_name: str, args: list[str], timeout: float) -> dict[str, Any] | None:
        """The answer of ``task_name(call_id, *args)``, or None if none came within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # Subscribed before the task is sent, so its answer's message cannot pass unseen (if Redis is slow to
        # confirm, polling still finds the answer).
        await self._listener.subscribed(min(SUBSCRIBE_SECONDS, timeout))
        token = secrets.token_hex(16)
        call_id = f"{self._tag}:{token}"
        question = [task_name, *args]
        messages: asyncio.Queue[bytes] = asyncio.Queue()
        self._pending[token] = messages
        try:
            # Expiring with the wait: a lookup nobody waits for any more is not worth a worker's time.
            await asyncio.to_thread(
                self.celery_app.send_task, task_name, args=[call_id, *args], expires=timeout
            )
            while (remaining := deadline - loop.time()) > 0:
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(messages.get(), min(POLL_SECONDS, remaining))
                    if (answer := self._open(call_id, question, data)) is not None:
                        return answer
                    continue
                stored = await self._stored(call_id)
                if stored is not None and (answer := self._open(call_id, question, stored)) is not None:
                    return answer
            return None
        finally:
            del self._pending[token]

    async def _stored(self, call_id: str) -> bytes | str | None:
        try:
            return await self.redis.get(reply_channel(call_id))
        except RedisError:  # as if not answered yet: the wait's bound still holds
            log.warning("could not read a stored task answer", extra={"call_id": call_id})
            return None

    def _open(self, call_id: str, question: list[str], data: bytes | str) -> dict[str, Any] | None:
        answer = open_reply(call_id, question, data, self.mac_keys)
        if answer is None:
            log.warning("ignored a task answer that does not authenticate", extra={"call_id": call_id})
        return answer

    def _answer(self, token: str, data: bytes) -> None:
        waiting = self._pending.get(token)
        if waiting is not None:
            waiting.put_nowait(data)

    async def close(self) -> None:
        await self._listener.close()
