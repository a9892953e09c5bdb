"""Run a Celery task and wait for its answer, for work that needs a worker but no durable job.

Issuing a key needs the instance's roles, which a worker looks up (Politician sits behind the task queue), yet
nothing about the lookup has to outlive the request: if no answer comes in time the request fails and nothing
was written, so the client simply retries. Such a call has no job row: the task gets a random call id and
answers through workers/replies.py; this process wakes the waiter from its one subscription to
``notary:reply:<process tag>:*`` (its own answers only), and a waiter that missed the message reads the stored
answer once a second. An answer counts only if its HMAC (workers/replies.py) checks out.

Calls share messages: while one message of a task is being sent, the calls that come meanwhile queue and go
together in the next one (the task gets the id of the batch, whose calls wait in Redis: see
workers/replies.py). An idle process sends each call at once; a busy one pays the broker's and the worker's
per-message cost (most of a lookup's) once per batch instead of once per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from celery import Celery
from redis.exceptions import RedisError

from api.channel_listener import PatternListener
from workers.replies import MAX_CALLS_PER_MESSAGE, calls_key, open_reply, reply_channel

log = logging.getLogger("notary.api")

POLL_SECONDS = 1.0
SUBSCRIBE_SECONDS = 2.0


@dataclass
class _Unsent:
    call: list[str]  # [call_id, *args]
    deadline: float  # on the event loop's clock
    sent: asyncio.Future[None]  # done once sent, or dropped (expired, or its caller gone), or failed


class TaskCalls:
    def __init__(self, celery_app: Celery, redis_client: aioredis.Redis, mac_keys: Sequence[bytes]) -> None:
        self.celery_app = celery_app
        self.redis = redis_client
        self.mac_keys = tuple(mac_keys)
        self._pending: dict[str, asyncio.Queue[bytes]] = {}
        self._unsent: dict[str, list[_Unsent]] = {}  # per task name
        self._senders: dict[str, asyncio.Task[None]] = {}  # per task name, while it has calls to send
        self._tag = secrets.token_hex(8)
        self._listener = PatternListener(redis_client, reply_channel(self._tag + ":*"), self._answer)

    async def call(self, task_name: str, args: list[str], timeout: float) -> dict[str, Any] | None:
        """The answer to the call ``[call_id, *args]`` of ``task_name`` (sent in a batch), or None if none
        came within ``timeout`` seconds."""
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
        sent = self._queue(task_name, [call_id, *args], deadline)
        try:
            try:
                await asyncio.wait_for(asyncio.shield(sent), deadline - loop.time())
            except TimeoutError:
                return None
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
            sent.cancel()  # if still queued: nobody waits for it any more
            del self._pending[token]

    def _queue(self, task_name: str, call: list[str], deadline: float) -> asyncio.Future[None]:
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unsent.setdefault(task_name, []).append(_Unsent(call, deadline, sent))
        if task_name not in self._senders:
            # A context of its own: the first caller's (its request id) would tag every later batch's logs.
            self._senders[task_name] = asyncio.create_task(
                self._send_queued(task_name), context=contextvars.Context()
            )
        return sent

    async def _send_queued(self, task_name: str) -> None:
        loop = asyncio.get_running_loop()
        batch: list[_Unsent] = []
        try:
            while queued := self._unsent.get(task_name):
                now = loop.time()
                # A caller that stopped waiting has cancelled its call; one at its deadline is about to.
                batch = [u for u in queued[:MAX_CALLS_PER_MESSAGE] if u.deadline > now and not u.sent.done()]
                del queued[:MAX_CALLS_PER_MESSAGE]
                if not batch:
                    continue
                # Expiring with the first wait to end: the calls of one batch were queued moments apart.
                expires = min(unsent.deadline for unsent in batch) - now
                batch_id = f"{self._tag}:{secrets.token_hex(16)}"
                calls = json.dumps([unsent.call for unsent in batch])
                try:
                    await self.redis.set(calls_key(batch_id), calls, px=max(int(expires * 1000), 1))
                    await asyncio.to_thread(
                        self.celery_app.send_task, task_name, args=[batch_id], expires=expires
                    )
                except Exception as error:
                    _settle(batch, error)
                else:
                    _settle(batch, None)
        finally:
            # Reached with calls still waiting only when cancelled (the process is closing).
            for unsent in batch + self._unsent.pop(task_name, []):
                unsent.sent.cancel()
            del self._senders[task_name]

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
        senders = list(self._senders.values())
        for sender in senders:
            sender.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        await self._listener.close()


def _settle(batch: list[_Unsent], error: Exception | None) -> None:
    """Tell each caller in ``batch`` still waiting that its call was sent, or why it was not."""
    for unsent in batch:
        if unsent.sent.done():
            continue
        if error is None:
            unsent.sent.set_result(None)
        else:
            unsent.sent.set_exception(error)
