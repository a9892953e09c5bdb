"""Warm metadata reads cost no database round trip, and a publish is visible at once in every API worker."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess

import httpx

from tests.api.tuf_helpers import new_repo, publish, tuf
from tests.support.processes import NotaryStack

READS = 24  # with a new connection each, spread over both gunicorn workers


def read_all(stack: NotaryStack, gun: str, role: str) -> list[httpx.Response]:
    return [
        httpx.get(stack.base_url + tuf(gun, f"{role}.json"), headers={"Connection": "close"})
        for _ in range(READS)
    ]


def test_warm_reads_survive_without_the_table_and_publishes_invalidate_every_worker(
    running_stack: NotaryStack,
) -> None:
    gun = "cache/app"
    with running_stack.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
    for role in ("timestamp", "snapshot", "targets", "root"):
        assert all(r.status_code == 200 for r in read_all(running_stack, gun, role))

    database_file = running_stack.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(database_file) as connection:
        connection.execute("ALTER TABLE tuf_files RENAME TO tuf_files_away")
    try:
        for role in ("timestamp", "snapshot", "targets", "root"):
            responses = read_all(running_stack, gun, role)
            assert all(r.status_code == 200 for r in responses), "a warm read went to the database"
    finally:
        with sqlite3.connect(database_file) as connection:
            connection.execute("ALTER TABLE tuf_files_away RENAME TO tuf_files")

    with running_stack.client() as client:
        assert publish(client, gun, repo.add_target("new", b"content")).status_code == 200
    versions = {json.loads(r.content)["signed"]["version"] for r in read_all(running_stack, gun, "targets")}
    assert versions == {repo.versions["targets"]}, "every worker serves the new targets right after the 200"


def test_a_frozen_api_worker_never_serves_its_stale_cache(running_stack: NotaryStack) -> None:
    """A worker that cannot acknowledge a change (here: stopped) delays the publish by at most the liveness
    window, and once it runs again it does not answer from its cache until it has caught up."""
    gun = "cache/frozen"
    with running_stack.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
    assert all(r.status_code == 200 for r in read_all(running_stack, gun, "targets"))  # warm both workers
    master = running_stack.processes["web"].pid
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2
    frozen = int(workers[0])
    os.kill(frozen, signal.SIGSTOP)
    try:
        with running_stack.client() as client:  # the other worker accepts while this one is stopped
            assert publish(client, gun, repo.add_target("after", b"x")).status_code == 200
    finally:
        os.kill(frozen, signal.SIGCONT)
    versions = {json.loads(r.content)["signed"]["version"] for r in read_all(running_stack, gun, "targets")}
    assert versions == {repo.versions["targets"]}, "a worker answered from a cache older than the publish"
