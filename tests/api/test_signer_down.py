"""With no signer alive, work that needs it fails fast with 503 SIGNER_UNAVAILABLE and no job, while reads
(even of an expired timestamp, served as stored), health and metrics keep answering; once a signer is back,
publishing and re-signing work again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from models.db import Database
from models.tables import Job
from tests.api.tuf_helpers import (
    assert_error,
    assert_nothing_stored,
    new_repo,
    plant_timestamp,
    publish,
    published,
    state,
    tuf,
    version_of,
)
from tests.support.processes import NotaryStack, wait_until

GUN = "example.com/app"


def job_count(stack: NotaryStack) -> int:
    database = Database(stack.db_url)
    try:
        with database.read() as session:
            return int(session.scalar(select(func.count()).select_from(Job)) or 0)
    finally:
        database.dispose()


def signer_up(stack: NotaryStack) -> float:
    with stack.client() as client:
        text = client.get("/metrics").text
    found = re.search(r"^notary_signer_up(?:\{[^}]*\})? (\S+)$", text, re.M)
    assert found is not None, "notary_signer_up not exported"
    return float(found.group(1))


def test_signer_down_fails_fast_while_reads_and_health_stay_up(running_stack: NotaryStack) -> None:
    stack = running_stack
    stale_gun = "example.com/stale"
    with stack.client() as client:
        repo = new_repo(client, GUN, server_snapshot=True)
        new_repo(client, stale_gun)  # its timestamp will have expired while the signer is away
        before = state(client, GUN)
    assert signer_up(stack) == 1
    stack.processes["signer"].kill()  # SIGKILL: no goodbye; the heartbeat simply expires
    wait_until(lambda: not stack.signer_alive(), 30, what="the heartbeat to expire")
    stale_version = plant_timestamp(stack, stale_gun, datetime.now(UTC) - timedelta(minutes=1))
    jobs_before = job_count(stack)

    attempted = repo.add_target("while-down", b"x")
    with stack.client() as client:
        assert_error(publish(client, GUN, attempted), 503, "SIGNER_UNAVAILABLE")
        assert_error(
            publish(client, GUN, attempted, headers={"Prefer": "respond-async"}), 503, "SIGNER_UNAVAILABLE"
        )
        assert_error(client.get(tuf("example.com/new", "timestamp.key")), 503, "SIGNER_UNAVAILABLE")
        assert_error(client.post(tuf(GUN, "snapshot.key")), 503, "SIGNER_UNAVAILABLE")
        assert_nothing_stored(client, GUN, before, attempted)  # every read answers 200, as before
        expired = client.get(tuf(stale_gun, "timestamp.json"))  # served as stored: no one can re-sign it
        assert expired.status_code == 200
        assert version_of(expired.content) == stale_version
        health = client.get("/_notary_server/health")
        assert (health.status_code, health.json()) == (200, {})
    assert job_count(stack) == jobs_before, "no job is created for work no signer can do"
    assert signer_up(stack) == 0
    assert "no signer heartbeat" in stack.processes["web"].log_path.read_text()

    stack.start("signer")
    with stack.client() as client:
        published(client, GUN, attempted)
        refreshed = client.get(tuf(stale_gun, "timestamp.json"))
        assert refreshed.status_code == 200
        assert version_of(refreshed.content) == stale_version + 1
    assert signer_up(stack) == 1
