"""Job records. State changes are conditional UPDATEs, so two attempts of one job cannot both finish it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models import outbox
from models.base import iso_utc, utcnow
from models.bulk import delete_for_jobs
from models.tables import Job, WebhookDelivery
from models.webhooks import delete_deliveries
from notary.jobs import JobState
from notary.subscriptions import job_event_data


@dataclass(frozen=True)
class JobView:
    """A job as the API shows it."""

    id: str
    kind: str
    state: JobState
    gun: str | None
    result: Any
    error: dict[str, Any] | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": iso_utc(self.created_at),
            "updated_at": iso_utc(self.updated_at),
        }
        if self.gun is not None:
            body["gun"] = self.gun
        if self.finished_at is not None:
            body["finished_at"] = iso_utc(self.finished_at)
        if self.state is JobState.SUCCEEDED:
            body["result"] = self.result
        if self.state is JobState.FAILED:
            body["error"] = self.error
        return body


def view(job: Job) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        state=JobState(job.state),
        gun=job.gun,
        result=None if job.result is None else json.loads(job.result),
        error=None if job.error is None else json.loads(job.error),
        attempts=job.attempts,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def create_job(
    session: Session,
    kind: str,
    params: dict[str, Any],
    gun: str | None = None,
    callback_url: str | None = None,
) -> Job:
    now = utcnow()
    job = Job(
        id=uuid.uuid4().hex,
        kind=kind,
        stage=kind,
        state=JobState.QUEUED.value,
        gun=gun,
        params=json.dumps(params, separators=(",", ":")),
        callback_url=callback_url,
        attempts=0,
        enqueued_count=1,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


_UNFINISHED = [JobState.QUEUED.value, JobState.RUNNING.value]


def claim(session: Session, job_id: str, stage: str | None = None) -> bool:
    """queued|running -> running, counting the attempt; False if the job is finished, unknown, or (when
    ``stage`` is given) waiting for another step."""
    now = utcnow()
    conditions = [Job.id == job_id, Job.state.in_(_UNFINISHED)]
    if stage is not None:
        conditions.append(Job.stage == stage)
    claimed = session.execute(
        update(Job)
        .where(*conditions)
        .values(state=JobState.RUNNING.value, attempts=Job.attempts + 1, started_at=now, updated_at=now)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def finish(
    session: Session,
    job_id: str,
    state: JobState,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
    stage: str | None = None,
) -> bool:
    """running -> succeeded|failed in the caller's transaction, with its ``job.finished`` event; False if
    another attempt finished it first (or, when ``stage`` is given, if the job has moved past that step)."""
    now = utcnow()
    # ``work`` carried files between the steps; nothing reads it once the job is over.
    values: dict[str, Any] = {"state": state.value, "updated_at": now, "finished_at": now, "work": None}
    if state is JobState.SUCCEEDED:
        values["result"] = json.dumps(result, separators=(",", ":"))
    else:
        values["error"] = json.dumps(error, separators=(",", ":"))
    conditions = [Job.id == job_id, Job.state.in_(_UNFINISHED)]
    if stage is not None:
        conditions.append(Job.stage == stage)
    finished = session.execute(update(Job).where(*conditions).values(**values))
    if not finished.rowcount:  # type: ignore[attr-defined]
        return False
    job = session.get(Job, job_id)
    assert job is not None
    data = job_event_data(job.id, job.kind, state.value, job.gun, result, error)
    outbox.record(session, "job.finished", data, gun=job.gun)
    return True


def advance(session: Session, job_id: str, from_stage: str, to_stage: str, work: Any) -> bool:
    """Hand a running job to its next step, with what that step needs; False if another attempt did."""
    advanced = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.RUNNING.value, Job.stage == from_stage)
        .values(stage=to_stage, work=json.dumps(work, separators=(",", ":")), updated_at=utcnow())
    )
    return bool(advanced.rowcount)  # type: ignore[attr-defined]


def work_of(job: Job) -> Any:
    return None if job.work is None else json.loads(job.work)


def stale_jobs(session: Session, queued_before: datetime, running_before: datetime, limit: int) -> list[Job]:
    """Jobs that were never picked up, or whose worker has gone quiet, oldest first."""
    query = (
        select(Job)
        .where(
            ((Job.state == JobState.QUEUED.value) & (Job.updated_at < queued_before))
            | ((Job.state == JobState.RUNNING.value) & (Job.updated_at < running_before))
        )
        .order_by(Job.updated_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def purge_finished(session: Session, finished_before: datetime, batch: int) -> int:
    """Delete up to ``batch`` jobs that ended before ``finished_before``, with their webhook deliveries (and a
    bulk job's repositories and Idempotency-Key)."""
    doomed = list(
        session.scalars(
            select(Job.id)
            .where(Job.state.in_([JobState.SUCCEEDED.value, JobState.FAILED.value]))
            .where(Job.finished_at < finished_before)
            .limit(batch)
        )
    )
    if not doomed:
        return 0
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.job_id.in_(doomed))
    delete_deliveries(session, list(session.scalars(deliveries)))
    delete_for_jobs(session, doomed)
    session.execute(delete(Job).where(Job.id.in_(doomed)))
    return len(doomed)


def mark_requeued(session: Session, job: Job) -> None:
    job.enqueued_count += 1
    job.updated_at = utcnow()


def running_lease(visibility_timeout: float) -> timedelta:
    """A running job untouched for longer than the broker's redelivery window has lost its worker."""
    return timedelta(seconds=visibility_timeout * 2)
