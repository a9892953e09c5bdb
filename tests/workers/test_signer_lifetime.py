"""The signer signs what a worker planned, so it bounds what a plan can get signed: nothing expiring later
than the server gives the role, and nothing but the role's own metadata type. Real signer, real queue; the
test plays a compromised worker by writing the plan itself."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from models.base import utcnow
from models.db import Database
from models.jobs import create_job, get_job, work_of
from models.tables import ServerKey
from notary.tuf.timefmt import format_go_time
from notary.tuf.update import SNAPSHOT_LIFETIME, TIMESTAMP_LIFETIME, SigningOrder, UpdatePlan
from tests.support.processes import NotaryStack, wait_until

GUN = "example.com/lifetime"


def server_key_id(stack: NotaryStack, role: str) -> str:
    with stack.client() as client:
        assert client.get(f"/v2/{GUN}/_trust/tuf/{role}.key").status_code == 200
    database = Database(stack.db_url)
    with database.read() as session:
        key_id = session.scalars(select(ServerKey.key_id).where(ServerKey.role == role)).one()
    database.dispose()
    return key_id


def run_signing(stack: NotaryStack, plan: UpdatePlan) -> dict[str, Any]:
    """Queue ``plan`` for the signer as the verify step would, and return the job once the signer is done."""
    database = Database(stack.db_url)
    with database.transaction() as session:
        job = create_job(session, "signer.sign_update", {}, gun=GUN)
        job.work = json.dumps(plan.to_work())
        job_id = job.id
    stack.celery().send_task("signer.sign_update", args=[job_id])

    def signer_done() -> dict[str, Any] | None:
        with database.read() as session:
            stored = get_job(session, job_id)
            assert stored is not None
            if stored.stage == "signer.sign_update" and stored.state != "failed":
                return None
            return {
                "stage": stored.stage,
                "state": stored.state,
                "error": stored.error,
                "work": work_of(stored),
            }

    try:
        done: dict[str, Any] = wait_until(signer_done, what="the signer's verdict")
        return done
    finally:
        database.dispose()


@pytest.fixture
def signer_stack(stack: NotaryStack) -> NotaryStack:
    stack.start("web")
    stack.start("signer")  # no worker: a signed plan waits at the commit step, where the test looks at it
    return stack


def timestamp_plan(key_id: str, expires_in: timedelta) -> UpdatePlan:
    order = SigningOrder("timestamp", key_id, 2, format_go_time(utcnow() + expires_in))
    return UpdatePlan(GUN, {"snapshot": b'{"signed":{}}'}, None, order, [], None)


def test_a_timestamp_within_its_lifetime_is_signed(signer_stack: NotaryStack) -> None:
    key_id = server_key_id(signer_stack, "timestamp")
    done = run_signing(signer_stack, timestamp_plan(key_id, TIMESTAMP_LIFETIME))
    assert (done["stage"], done["state"], done["error"]) == ("tuf.commit_update", "running", None)
    assert done["work"]["signed"]["timestamp"]


def test_a_timestamp_expiring_past_its_lifetime_is_refused(signer_stack: NotaryStack) -> None:
    key_id = server_key_id(signer_stack, "timestamp")
    done = run_signing(signer_stack, timestamp_plan(key_id, TIMESTAMP_LIFETIME + timedelta(hours=2)))
    assert (done["stage"], done["state"]) == ("signer.sign_update", "failed")
    assert json.loads(done["error"])["code"] == "UNKNOWN"
    assert "expires after the server's lifetime" in signer_stack.processes["signer"].log_path.read_text()


def test_a_snapshot_expiring_past_its_lifetime_is_refused(signer_stack: NotaryStack) -> None:
    snapshot_key, timestamp_key = (
        server_key_id(signer_stack, "snapshot"),
        server_key_id(signer_stack, "timestamp"),
    )
    expires = format_go_time(utcnow() + SNAPSHOT_LIFETIME + timedelta(days=30))
    snapshot = SigningOrder("snapshot", snapshot_key, 2, expires, {"_type": "Snapshot", "meta": {}})
    timestamp = SigningOrder("timestamp", timestamp_key, 2, format_go_time(utcnow() + timedelta(days=1)))
    plan = UpdatePlan(GUN, {}, snapshot, timestamp, [], None)
    done = run_signing(signer_stack, plan)
    assert (done["stage"], done["state"]) == ("signer.sign_update", "failed")
    assert "expires after the server's lifetime" in signer_stack.processes["signer"].log_path.read_text()


def test_the_timestamp_key_signs_no_snapshot(signer_stack: NotaryStack) -> None:
    key_id = server_key_id(signer_stack, "timestamp")
    expires = format_go_time(utcnow() + timedelta(days=1))
    posing = SigningOrder(
        "timestamp", key_id, 2, expires, {"_type": "Snapshot", "expires": expires, "meta": {}}
    )
    done = run_signing(signer_stack, UpdatePlan(GUN, {}, posing, posing, [], None))
    assert (done["stage"], done["state"]) == ("signer.sign_update", "failed")
    assert "not the metadata type of its role" in signer_stack.processes["signer"].log_path.read_text()


def test_a_snapshot_is_signed_as_its_order_says_whatever_else_the_plan_holds(
    signer_stack: NotaryStack,
) -> None:
    snapshot_key, timestamp_key = (
        server_key_id(signer_stack, "snapshot"),
        server_key_id(signer_stack, "timestamp"),
    )
    expires = format_go_time(utcnow() + timedelta(days=1))
    # Go's JSON decoding folds case (and the long s, U+017F, to "s"): a Go client reads this second expiry.
    smuggled = {"_type": "Snapshot", "expires": expires, "expire\u017f": "2099-01-01T00:00:00Z", "meta": {}}
    snapshot = SigningOrder("snapshot", snapshot_key, 2, expires, {**smuggled, "version": 2})
    plan = UpdatePlan(GUN, {}, snapshot, SigningOrder("timestamp", timestamp_key, 2, expires), [], None)
    done = run_signing(signer_stack, plan)
    assert done["stage"] == "tuf.commit_update", done
    signed = json.loads(base64.b64decode(done["work"]["signed"]["snapshot"]))["signed"]
    assert signed == {"_type": "Snapshot", "expires": expires, "meta": {}, "version": 2}
