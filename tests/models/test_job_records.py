"""The job state machine: conditional UPDATEs decide who may claim and who may finish a job."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from models import jobs as job_records
from models.base import utcnow
from models.db import Database
from models.jobs import claim, create_job, finish, get_job, stale_jobs, view
from models.tables import Job
from notary.jobs import JobState


def new_job(database: Database, gun: str | None = "example.com/app") -> str:
    with database.transaction() as session:
        return create_job(session, "sign", {"role": "targets"}, gun=gun).id


def load(database: Database, job_id: str) -> Job:
    with database.read() as session:
        job = get_job(session, job_id)
    assert job is not None
    return job


def claim_job(database: Database, job_id: str) -> bool:
    with database.transaction() as session:
        return claim(session, job_id)


def test_create_job_is_queued(database: Database) -> None:
    job = load(database, new_job(database))
    assert (job.state, job.attempts, job.enqueued_count) == ("queued", 0, 1)
    assert json.loads(job.params) == {"role": "targets"}
    assert job.started_at is None
    assert job.finished_at is None


def test_claim_runs_the_job_and_counts_each_attempt(database: Database) -> None:
    job_id = new_job(database)
    assert claim_job(database, job_id)
    job = load(database, job_id)
    assert (job.state, job.attempts) == ("running", 1)
    assert job.started_at is not None

    assert claim_job(database, job_id)  # a redelivery takes the running job over
    assert (load(database, job_id).state, load(database, job_id).attempts) == ("running", 2)


def test_claim_of_an_unknown_job_is_refused(database: Database) -> None:
    assert not claim_job(database, "0" * 32)


def test_finish_succeeded_stores_the_result_once(database: Database) -> None:
    job_id = new_job(database)
    claim_job(database, job_id)
    with database.transaction() as session:
        assert finish(session, job_id, JobState.SUCCEEDED, result={"version": 3, "roles": ["targets"]})
    job = load(database, job_id)
    assert job.state == "succeeded"
    assert json.loads(job.result or "null") == {"version": 3, "roles": ["targets"]}
    assert job.finished_at is not None
    finished_at = job.finished_at

    with database.transaction() as session:
        assert not finish(session, job_id, JobState.FAILED, error={"code": "late"})
        assert not finish(session, job_id, JobState.SUCCEEDED, result={"version": 4})
    assert not claim_job(database, job_id)

    job = load(database, job_id)
    assert (job.state, job.attempts, job.error, job.finished_at) == ("succeeded", 1, None, finished_at)
    assert json.loads(job.result or "null") == {"version": 3, "roles": ["targets"]}


def test_finish_failed_stores_the_error(database: Database) -> None:
    job_id = new_job(database)
    claim_job(database, job_id)
    error = {"code": "signing_failed", "message": "no key"}
    with database.transaction() as session:
        assert finish(session, job_id, JobState.FAILED, error=error)
    job = load(database, job_id)
    assert job.state == "failed"
    assert json.loads(job.error or "null") == error
    assert job.result is None
    assert job.finished_at is not None
    assert not claim_job(database, job_id)


def test_view_shows_result_only_when_succeeded_and_error_only_when_failed(database: Database) -> None:
    queued, running, succeeded, failed = (new_job(database) for _ in range(4))
    for job_id in (running, succeeded, failed):
        claim_job(database, job_id)
    with database.transaction() as session:
        finish(session, succeeded, JobState.SUCCEEDED, result=[1, 2])
        finish(session, failed, JobState.FAILED, error={"code": "boom"})

    bodies = {job: view(load(database, job)).to_dict() for job in (queued, running, succeeded, failed)}
    for job_id in (queued, running):
        assert "result" not in bodies[job_id]
        assert "error" not in bodies[job_id]
        assert "finished_at" not in bodies[job_id]
    assert bodies[succeeded]["result"] == [1, 2]
    assert "error" not in bodies[succeeded]
    assert bodies[failed]["error"] == {"code": "boom"}
    assert "result" not in bodies[failed]
    assert bodies[queued]["state"] == "queued"
    assert bodies[running]["attempts"] == 1
    assert bodies[succeeded]["gun"] == "example.com/app"
    assert bodies[failed]["finished_at"].endswith("Z")
    assert bodies[queued]["created_at"].endswith("Z")


def test_stale_jobs_are_old_queued_and_old_running_ones(database: Database) -> None:
    now = utcnow()
    queued_before, running_before = now - timedelta(minutes=10), now - timedelta(hours=1)
    jobs = {name: new_job(database) for name in ("fresh_queued", "old_queued", "fresh_running")}
    jobs |= {name: new_job(database) for name in ("old_running", "old_succeeded", "old_failed")}
    for name in ("fresh_running", "old_running", "old_succeeded", "old_failed"):
        claim_job(database, jobs[name])
    with database.transaction() as session:
        finish(session, jobs["old_succeeded"], JobState.SUCCEEDED, result=None)
        finish(session, jobs["old_failed"], JobState.FAILED, error={"code": "x"})

    ages = {
        "fresh_queued": timedelta(minutes=1),
        "old_queued": timedelta(minutes=20),
        # Older than the queued cutoff but within the running lease: its worker is still alive.
        "fresh_running": timedelta(minutes=30),
        "old_running": timedelta(hours=2),
        "old_succeeded": timedelta(hours=3),
        "old_failed": timedelta(hours=3),
    }
    with database.transaction() as session:
        for name, age in ages.items():
            session.execute(update(Job).where(Job.id == jobs[name]).values(updated_at=now - age))

    with database.read() as session:
        stale = [job.id for job in stale_jobs(session, queued_before, running_before, limit=10)]
        limited = [job.id for job in stale_jobs(session, queued_before, running_before, limit=1)]
    assert stale == [jobs["old_running"], jobs["old_queued"]]  # oldest first
    assert limited == [jobs["old_running"]]


def test_finished_jobs_drop_their_work_and_are_purged_after_retention(database: Database) -> None:
    from datetime import UTC, datetime, timedelta

    from models import webhooks
    from models.tables import WebhookAttempt, WebhookDelivery

    with database.transaction() as session:
        old = job_records.create_job(session, "tuf.verify_upload", {"files": {}}, gun="g").id
        fresh = job_records.create_job(session, "tuf.verify_upload", {}, gun="g").id
        running = job_records.create_job(session, "tuf.verify_upload", {}, gun="g").id
        for job_id in (old, fresh, running):
            job_records.claim(session, job_id)
        job_records.advance(session, old, "tuf.verify_upload", "tuf.commit_update", {"files": {"root": "x"}})
        job_records.finish(session, old, JobState.SUCCEEDED, result={})
        job_records.finish(session, fresh, JobState.FAILED, error={"code": "VERSION"})
        delivery = webhooks.create_delivery(session, "http://127.0.0.1:9/h", "job.finished", b"{}", old)
        session.add(WebhookAttempt(delivery_id=delivery, status_code=500, duration_ms=1))
    with database.transaction() as session:
        assert job_records.get_job(session, old).work is None  # type: ignore[union-attr]
        job = job_records.get_job(session, old)
        assert job is not None
        job.finished_at = datetime.now(UTC) - timedelta(days=8)
    with database.transaction() as session:
        purged = job_records.purge_finished(session, datetime.now(UTC) - timedelta(days=7), batch=100)
    assert purged == 1
    with database.read() as session:
        assert job_records.get_job(session, old) is None
        assert job_records.get_job(session, fresh) is not None
        assert job_records.get_job(session, running) is not None
        assert session.query(WebhookDelivery).count() == 0
        assert session.query(WebhookAttempt).count() == 0
