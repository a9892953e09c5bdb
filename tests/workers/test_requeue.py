"""Jobs whose message never reached the broker (or whose worker vanished) are sent again by the beat task."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from models import jobs as job_records
from models.base import utcnow
from models.db import Database
from models.tables import Job
from notary.jobs import JobState
from tests.support.processes import NotaryStack, wait_until


def test_a_job_left_queued_is_sent_again_and_finishes(stack: NotaryStack) -> None:
    stack.write_config(jobs={"requeue_after": 1})
    stack.start_all()  # the web process migrates the database
    database = Database(stack.db_url)
    with database.transaction() as session:  # as if the API died between its commit and the send
        job_id = job_records.create_job(session, "signer.get_key", {"role": "timestamp"}, gun="lost/job").id
        session.execute(
            update(Job).where(Job.id == job_id).values(updated_at=utcnow() - timedelta(minutes=5))
        )

    stack.celery().send_task("jobs.requeue_stale")  # what beat sends every 30 s

    def finished() -> job_records.JobView | None:
        with database.read() as session:
            job = job_records.get_job(session, job_id)
            assert job is not None
            view = job_records.view(job)
            return view if view.state.terminal else None

    job = wait_until(finished, 60, what="the re-sent job")
    with database.read() as session:
        enqueued = session.get(Job, job_id).enqueued_count  # type: ignore[union-attr]
    database.dispose()
    assert job.state is JobState.SUCCEEDED
    assert job.result["role"] == "timestamp"
    assert enqueued == 2


def test_beat_runs_the_schedule(stack: NotaryStack) -> None:
    stack.start("beat")
    # A fresh schedule's first run comes one interval after start; beat must at least load and tick.
    log = wait_until(
        lambda: "beat: Starting" in (t := stack.processes["beat"].log_path.read_text()) and t, 60
    )
    assert "Traceback" not in log
