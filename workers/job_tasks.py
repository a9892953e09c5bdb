"""Housekeeping of jobs, run by beat: send again the jobs whose message was lost or whose worker died."""

from __future__ import annotations

import logging
from datetime import timedelta

from models import jobs as job_records
from models.base import utcnow
from workers import metrics, runtime
from workers.app import celery_app
from workers.purging import purge_older_than

log = logging.getLogger("notary.jobs")
BATCH = 200


@celery_app.task(name="jobs.purge_finished")
def purge_finished() -> int:
    """Beat: delete jobs finished longer ago than ``jobs.retention``, in batches."""
    return purge_older_than("jobs.retention", job_records.purge_finished, log, "finished jobs")


@celery_app.task(name="jobs.requeue_stale")
def requeue_stale() -> int:
    settings = runtime.current().settings
    now = utcnow()
    queued_before = now - timedelta(seconds=settings["jobs.requeue_after"])
    running_before = now - job_records.running_lease(settings["broker.visibility_timeout"])
    resent = 0
    with runtime.current().database.transaction() as session:
        for job in job_records.stale_jobs(session, queued_before, running_before, BATCH):
            # The stage names the step that must run next; a duplicate message of it is harmless.
            celery_app.send_task(job.stage, args=[job.id])
            job_records.mark_requeued(session, job)
            resent += 1
    if resent:
        metrics.JOBS_REQUEUED.inc(resent)
        log.warning("re-sent stale jobs", extra={"count": resent})
    return resent
