"""A worker killed in the middle of a bulk publish: the job still finishes, every repository is published
exactly once, and while it runs the job document shows the progress made so far."""

from __future__ import annotations

import os
import sys
from collections import Counter

from sqlalchemy import select

from models.db import Database
from models.tables import ChangefeedEntry, Job, TufFile
from tests.api.bulk_helpers import finished_job, initial_repositories, job, json_body, submit
from tests.support.processes import NotaryStack, Process, wait_until
from tests.workers.pausing_app import GATE_KEY, PAUSE_AT_KEY, PAUSED_KEY

REPOSITORIES = 24


def start_pausing_worker(stack: NotaryStack) -> Process:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.workers.pausing_app",
        "worker",
        "-Q",
        "default,webhooks",
        "-c",
        "1",
        "-n",
        "pausing@%h",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    env = stack.env({"NOTARY_CONFIG_FILE": str(stack.config_path), "PYTHONPATH": os.getcwd()})
    process = stack.track(Process("pausing", argv, env, stack.root / "pausing.log").start())
    wait_until(lambda: "ready." in process.log_path.read_text(), 60, what="pausing worker ready")
    return process


def test_worker_killed_mid_bulk_finishes_and_publishes_each_repository_once(stack: NotaryStack) -> None:
    # A short visibility window: the killed worker's unacknowledged message comes back within seconds.
    stack.write_config(broker={"visibility_timeout": 2})
    stack.start("web")
    stack.start("signer")
    redis_client = stack.redis()
    redis_client.set(PAUSE_AT_KEY, 2)
    paused_worker = start_pausing_worker(stack)

    with stack.client() as client:
        repositories = initial_repositories(client, [f"crash/app-{i:02d}" for i in range(REPOSITORIES)])
        job_id = submit(client, json_body(repositories)).json()["id"]
        wait_until(lambda: redis_client.exists(PAUSED_KEY), 60, what="the second batch's commit to pause")

        running = job(client, job_id)
        assert running["state"] == "running"
        assert 0 < running["progress"]["done"] < REPOSITORIES, running["progress"]
        assert running["progress"]["failed"] == 0
        assert "result" not in running

        paused_worker.kill()  # SIGKILL mid-transaction: the paused batch's rows were never committed
        stack.start("worker")
        done = finished_job(client, job_id)

    assert done["state"] == "succeeded"
    assert done["progress"] == {"done": REPOSITORIES, "total": REPOSITORIES, "failed": 0}
    assert [r["state"] for r in done["result"]["repositories"]] == ["published"] * REPOSITORIES
    assert not redis_client.exists(GATE_KEY), "the paused commit never went on: it was killed"

    database = Database(stack.db_url)
    with database.read() as session:
        feed = Counter(session.scalars(select(ChangefeedEntry.gun)).all())
        files = Counter(session.execute(select(TufFile.gun, TufFile.role, TufFile.version)).all())
        batch_attempts = sorted(session.scalars(select(Job.attempts).where(Job.kind == "bulk.verify")).all())
    database.dispose()
    guns = [gun for gun, _ in repositories]
    assert feed == Counter(guns), "one changefeed row per repository"
    assert files == Counter(
        (gun, role, 1) for gun in guns for role in ("root", "targets", "snapshot", "timestamp")
    ), "each file stored once"
    # verify, sign and commit each claim a batch once; the killed commit was claimed again after redelivery.
    assert batch_attempts == [3] * (len(batch_attempts) - 1) + [4], batch_attempts
