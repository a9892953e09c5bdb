"""A Celery worker app for the crash tests: our real app, broker settings and ``JobTask`` base, plus one task
that holds still in the middle of its work until the test opens a gate, so a test can kill the worker at a
known point. Run as ``celery -A tests.workers.blocking_app worker``; the config comes from NOTARY_CONFIG_FILE.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from models.tables import ChangefeedEntry, Job
from workers import runtime
from workers.app import celery_app, configure
from workers.base import JobTask

ATTEMPTS_KEY = "test:blocking:attempts:{job_id}"
GATE_KEY = "test:blocking:gate:{job_id}"

configure(runtime.settings_from_environment())


class BlockingTask(JobTask):
    name = "tests.blocking"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        client = runtime.current().redis
        attempt = client.incr(ATTEMPTS_KEY.format(job_id=job.id))
        # The effect is written in the job's transaction, before the wait: a crash must roll it back.
        session.add(
            ChangefeedEntry(gun=job.gun or "", version=int(attempt), sha256="0" * 64, category="test")
        )
        session.flush()
        deadline = time.monotonic() + 120
        while not client.exists(GATE_KEY.format(job_id=job.id)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {"attempt": attempt}


celery_app.register_task(BlockingTask())
app = celery_app
