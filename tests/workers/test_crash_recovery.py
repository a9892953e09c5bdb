"""A worker killed in the middle of a task loses no job: the message is redelivered and the job finishes
once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlalchemy import select

from models import jobs as job_records
from models.db import Database
from models.migrate import upgrade
from models.tables import ChangefeedEntry
from notary.jobs import JobState
from tests.support.processes import NotaryStack, Process, wait_until
from tests.workers.blocking_app import ATTEMPTS_KEY, GATE_KEY


def start_blocking_worker(stack: NotaryStack, name: str) -> Process:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.workers.blocking_app",
        "worker",
        "-Q",
        "default",
        "-c",
        "1",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    env = stack.env({"NOTARY_CONFIG_FILE": str(stack.config_path), "PYTHONPATH": os.getcwd()})
    process = stack.track(Process(name, argv, env, stack.root / f"{name}.log").start())
    wait_until(lambda: "ready." in process.log_path.read_text(), 60, what=f"{name} ready")
    return process


def submit(stack: NotaryStack, database: Database) -> str:
    with database.transaction() as session:
        job_id = job_records.create_job(session, "tests.blocking", {}, gun="crash/test").id
    stack.celery().send_task("tests.blocking", args=[job_id])
    return job_id


def job_state(database: Database, job_id: str) -> job_records.JobView:
    with database.read() as session:
        job = job_records.get_job(session, job_id)
        assert job is not None
        return job_records.view(job)


def test_worker_killed_mid_task_redelivers_and_finishes_once(stack: NotaryStack) -> None:
    # A short visibility window so the broker hands the unacknowledged message to the next worker promptly.
    stack.write_config(broker={"visibility_timeout": 2})
    database = Database(stack.db_url)
    upgrade(database)
    redis_client = stack.redis()

    first = start_blocking_worker(stack, "first")
    job_id = submit(stack, database)
    wait_until(lambda: redis_client.get(ATTEMPTS_KEY.format(job_id=job_id)) == b"1", 60, what="first attempt")
    assert job_state(database, job_id).state is JobState.RUNNING

    first.kill()  # SIGKILL to the whole worker: no ack, no clean shutdown
    assert job_state(database, job_id).state is JobState.RUNNING

    start_blocking_worker(stack, "second")
    wait_until(lambda: redis_client.get(ATTEMPTS_KEY.format(job_id=job_id)) == b"2", 60, what="redelivery")
    redis_client.set(GATE_KEY.format(job_id=job_id), 1)
    finished = wait_until(lambda: (j := job_state(database, job_id)).state.terminal and j, 60, what="job end")

    assert finished.state is JobState.SUCCEEDED
    assert finished.result == {"attempt": 2}
    assert finished.attempts == 2
    with database.read() as session:
        effects = session.scalars(select(ChangefeedEntry).where(ChangefeedEntry.gun == "crash/test")).all()
    assert [effect.version for effect in effects] == [2], "the killed attempt's effect must have rolled back"
    database.dispose()


def test_pool_child_killed_mid_task_is_requeued_at_once(stack: NotaryStack) -> None:
    """reject_on_worker_lost: when only the pool process dies, the parent requeues the task itself."""
    database = Database(stack.db_url)
    upgrade(database)
    redis_client = stack.redis()
    worker = start_blocking_worker(stack, "parent")
    job_id = submit(stack, database)
    wait_until(lambda: redis_client.get(ATTEMPTS_KEY.format(job_id=job_id)) == b"1", 60, what="first attempt")

    children = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    assert children, "a prefork worker has a pool child"
    for child in children:
        os.kill(int(child), signal.SIGKILL)

    wait_until(lambda: redis_client.get(ATTEMPTS_KEY.format(job_id=job_id)) == b"2", 60, what="requeue")
    redis_client.set(GATE_KEY.format(job_id=job_id), 1)
    finished = wait_until(lambda: (j := job_state(database, job_id)).state.terminal and j, 60, what="job end")
    assert finished.state is JobState.SUCCEEDED
    assert finished.attempts == 2
    with database.read() as session:
        effects = session.scalars(select(ChangefeedEntry).where(ChangefeedEntry.gun == "crash/test")).all()
    assert len(effects) == 1
    database.dispose()
