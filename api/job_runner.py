"""Enqueue work as a job and wait for its outcome without blocking the event loop.

The job row is committed before its task is sent (so a worker can never see a missing job). Completion is
announced by the worker on ``notary:job:<id>``; each API process keeps ONE pattern subscription
(api/channel_listener.py) and wakes the matching waiters. Notifications are only a shortcut: waiters also
re-read the database every second, so a lost message (or a Redis hiccup) costs latency, never a wrong answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from celery import Celery

from api.channel_listener import PatternListener
from models import jobs as job_records
from models.db import Database
from models.jobs import JobView
from workers.cache_invalidation import WAIT_SECONDS

CHANNEL_PATTERN = "notary:job:*"
POLL_SECONDS = 1.0
# How long after a job's commit its after-commit work (the acknowledged cache invalidation) can still run.
ANNOUNCE_BOUND = timedelta(seconds=WAIT_SECONDS + 0.5)


class JobRunner:
    def __init__(self, database: Database, celery_app: Celery, redis_client: aioredis.Redis) -> None:
        self.database = database
        self.celery_app = celery_app
        self.redis = redis_client
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._listener = PatternListener(redis_client, CHANNEL_PATTERN, self._wake)

    async def submit(
        self,
        task_name: str,
        params: dict[str, Any],
        *,
        gun: str | None = None,
        callback_url: str | None = None,
        will_wait: bool = True,
    ) -> str:
        def create() -> str:
            with self.database.transaction() as session:
                return job_records.create_job(session, task_name, params, gun, callback_url).id

        job_id = await asyncio.to_thread(create)
        if will_wait:  # listen before the task can finish, so its notification is not missed
            self._listener.ensure_started()
            self._waiters.setdefault(job_id, set()).add(asyncio.Event())
        await asyncio.to_thread(self.celery_app.send_task, task_name, args=[job_id])
        return job_id

    async def load(self, job_id: str) -> JobView | None:
        def read() -> JobView | None:
            with self.database.read() as session:
                job = job_records.get_job(session, job_id)
                return None if job is None else job_records.view(job)

        return await asyncio.to_thread(read)

    async def wait(self, job_id: str, timeout: float, *, settle: bool = False) -> JobView | None:
        """The job once terminal, or its latest state when the timeout passes (None if it does not exist).

        ``settle``: for jobs that change what API processes cache, return only once the worker announced the
        job (which it does after every API process forgot the change), or once that must have happened."""
        self._listener.ensure_started()
        registered = self._waiters.setdefault(job_id, set())
        event = next(iter(registered)) if registered else asyncio.Event()
        registered.add(event)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        notified = False
        try:
            while True:
                job = await self.load(job_id)
                if job is None:
                    return None
                if job.state.terminal:
                    if settle and not notified and not event.is_set():
                        # Seen by polling: the worker may still be waiting for every API process to forget
                        # what the job changed; its notification comes only after that, within a bound.
                        await self._await_notification(event, job)
                    return job
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return job
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(POLL_SECONDS, remaining))
                notified = notified or event.is_set()
                event.clear()
        finally:
            waiters = self._waiters.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[job_id]

    async def _await_notification(self, event: asyncio.Event, job: JobView) -> None:
        finished = job.finished_at or job.updated_at
        left = (finished + ANNOUNCE_BOUND - datetime.now(UTC)).total_seconds()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)

    def _wake(self, job_id: str, _data: bytes) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    async def close(self) -> None:
        await self._listener.close()
