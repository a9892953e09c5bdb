"""A Celery worker app for the bulk crash test: our real app and tasks, unchanged, plus a pause. The Nth
``bulk.commit`` to run (N from Redis ``PAUSE_AT_KEY``) stops right before its write transaction commits, with
its rows written, until the test opens ``GATE_KEY`` or kills the worker. Run as
``celery -A tests.workers.pausing_app worker``; the config comes from NOTARY_CONFIG_FILE.
"""

from __future__ import annotations

import time
from typing import Any

from celery import current_task
from celery.signals import task_prerun, worker_process_init
from sqlalchemy import event
from sqlalchemy.orm import Session

from workers import runtime
from workers.app import celery_app, configure
from workers.bulk_tasks import COMMIT

PAUSE_AT_KEY = "test:pause:at"
COMMITS_KEY = "test:pause:commits"
PAUSED_KEY = "test:pause:paused"
GATE_KEY = "test:pause:gate"

configure(runtime.settings_from_environment())
_step = {"commit_number": 0, "transactions": 0}


@task_prerun.connect
def _count_commit_steps(task: Any = None, **_: Any) -> None:
    _step["transactions"] = 0
    if task is not None and task.name == COMMIT:
        _step["commit_number"] = int(runtime.current().redis.incr(COMMITS_KEY))


@worker_process_init.connect
def _listen_in_pool_processes(**_: Any) -> None:
    # Only in the worker's pool processes: the test process imports this module for its constants.
    event.listen(Session, "before_commit", _pause_the_chosen_commit)


def _pause_the_chosen_commit(session: Session) -> None:
    if not current_task or current_task.name != COMMIT:
        return
    _step["transactions"] += 1
    client = runtime.current().redis
    chosen = int(client.get(PAUSE_AT_KEY) or 0)
    # A step's first transaction claims the job; the second one holds its work.
    if _step["transactions"] != 2 or _step["commit_number"] != chosen:
        return
    client.set(PAUSED_KEY, 1)
    deadline = time.monotonic() + 120
    while not client.exists(GATE_KEY) and time.monotonic() < deadline:
        time.sleep(0.05)


app = celery_app
