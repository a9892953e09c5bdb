"""The base task: it owns a job's state machine, retries transient failures, and reports outcomes.

A job task receives only the job id. It claims the job (queued|running -> running, and only when the job's
``stage`` names this task), then runs the work and records the outcome in ONE transaction, with a
conditional UPDATE: if the worker dies before that commit the effect and the outcome are both lost
together, the message (acks_late) is redelivered, and the next attempt does the work again; if two attempts
race, only one commit can finish (or advance) the job. So a job finishes once.

A step of a chain returns ``Next(task, work)``: the job moves to that stage with ``work`` in the same
transaction, and the next task is sent after the commit. The last step returns ``Done(result)``.

After the terminal commit the task publishes ``notary:job:<id>`` on Redis (the API waits on it) and hands any
``callback_url`` to the webhooks queue.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery import Task
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from models import jobs as job_records
from models.tables import Job
from notary.errors import InternalError, NotaryError
from notary.jobs import JobState
from workers import metrics, runtime
from workers.app import job_channel

log = logging.getLogger("notary.tasks")

TRANSIENT_ERRORS = (OperationalError, redis.ConnectionError, redis.TimeoutError, ConnectionError)
MAX_TRANSIENT_RETRIES = 5


@dataclass(frozen=True)
class Done:
    result: Any


@dataclass(frozen=True)
class Next:
    task: str
    work: Any


class JobTask(Task):  # type: ignore[misc]
    """Subclasses implement ``execute(session, job, params)`` returning ``Done``, ``Next``, or a JSON-able
    result (meaning ``Done(result)``)."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        """Slow work that needs no database lock (a remote lookup, CPU-heavy checks that only read), done
        BEFORE the step's write transaction opens, with what the previous step handed over (``work``);
        ``execute`` receives its result as ``prepared``. On SQLite a write transaction is the whole
        database's lock, so nothing slow may run inside one."""
        return None

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        raise NotImplementedError

    def after_commit(self, job: Job, outcome: Done | Next) -> None:
        """Runs after the step's transaction committed (e.g. to tell API processes what changed)."""

    def on_failure(self, session: Session, job_id: str, error: NotaryError) -> None:
        """Runs in the transaction that fails the job, to settle what the job still held."""

    def announce(self, job_id: str) -> None:
        """Runs once the job's terminal state is committed."""
        announce_end(job_id)

    def run(self, job_id: str) -> None:
        started = time.monotonic()
        outcome = "skipped"
        try:
            outcome = self._run_job(job_id)
        finally:
            metrics.record_task(self.name, outcome, time.monotonic() - started)

    def _run_job(self, job_id: str) -> str:
        database = runtime.current().database
        with database.transaction() as session:
            if not job_records.claim(session, job_id, self.name):
                log.info("job finished, unknown, or at another step; nothing to do", extra={"job_id": job_id})
                return "skipped"
        try:
            with database.read() as session:
                stored = job_records.get_job(session, job_id)
                assert stored is not None
                params = json.loads(stored.params)
                work = job_records.work_of(stored)
            prepared = self.prepare(params, work)
            with database.transaction() as session:
                job = job_records.get_job(session, job_id)
                assert job is not None
                outcome = self.execute(session, job, params, prepared)
                if not isinstance(outcome, Done | Next):
                    outcome = Done(outcome)
                if isinstance(outcome, Next):
                    moved = job_records.advance(session, job_id, self.name, outcome.task, outcome.work)
                else:
                    moved = job_records.finish(
                        session, job_id, JobState.SUCCEEDED, result=outcome.result, stage=self.name
                    )
                if not moved:
                    raise _AlreadyFinished
        except _AlreadyFinished:
            log.info("another attempt finished this job first", extra={"job_id": job_id})
            return "skipped"
        except NotaryError as error:
            self._fail(job_id, error)
            return "failed"
        except TRANSIENT_ERRORS as error:
            if self.request.retries < MAX_TRANSIENT_RETRIES:
                log.warning(
                    "transient failure; retrying", extra={"job_id": job_id, "error": type(error).__name__}
                )
                raise self.retry(countdown=min(2**self.request.retries, 30), exc=error) from None
            log.exception("transient failures exhausted the retries", extra={"job_id": job_id})
            self._fail(job_id, InternalError())
            return "failed"
        except DBAPIError:
            log.exception("database error in job", extra={"job_id": job_id})
            self._fail(job_id, InternalError())
            return "failed"
        except Exception:
            # Never put internals into the job: they would reach clients and webhooks.
            log.exception("job failed unexpectedly", extra={"job_id": job_id})
            self._fail(job_id, InternalError())
            return "failed"
        try:
            self.after_commit(job, outcome)
        except Exception:
            # The work is committed; its notification, webhook and next step must still happen.
            log.exception("after-commit hook failed", extra={"job_id": job_id})
        if isinstance(outcome, Next):
            self.app.send_task(outcome.task, args=[job_id])
            return "advanced"
        self.announce(job_id)
        return "succeeded"

    def _fail(self, job_id: str, error: NotaryError) -> None:
        # Only while the job is at this step: a late duplicate must not fail a job another attempt moved on.
        with runtime.current().database.transaction() as session:
            finished = job_records.finish(
                session, job_id, JobState.FAILED, error=error.to_dict(), stage=self.name
            )
            if finished:
                self.on_failure(session, job_id, error)
        if finished:
            self.announce(job_id)


def announce_end(job_id: str) -> None:
    """Wake the API processes waiting for the job, and queue its webhook."""
    from workers.webhook_tasks import schedule_job_webhook

    try:
        runtime.current().redis.publish(job_channel(job_id), "done")
    except redis.RedisError:
        # Waiters fall back to polling the database, so a lost notification only costs latency.
        log.warning("could not publish job completion", extra={"job_id": job_id})
    schedule_job_webhook(job_id)


class _AlreadyFinished(Exception):
    pass
