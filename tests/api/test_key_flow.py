"""GET/POST {timestamp,snapshot}.key through the real processes: API -> Celery -> signer -> DB."""

from __future__ import annotations

import base64
import json
import re
import signal

import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import ServerKey
from notary.tuf.keys import PublicKey
from tests.support.processes import NotaryStack, wait_until

KEY_PATH = "/v2/example.com/app/_trust/tuf/{role}.key"


def key_of(body: bytes) -> PublicKey:
    document = json.loads(body)
    assert list(document) == ["keytype", "keyval"]
    assert list(document["keyval"]) == ["public", "private"], "Go's field order, as notary answers"
    assert document["keyval"]["private"] is None
    return PublicKey.from_dict(document)


def test_get_key_creates_one_pending_key_and_keeps_returning_it(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        first = client.get(KEY_PATH.format(role="timestamp"))
        again = client.get(KEY_PATH.format(role="timestamp"))
        snapshot = client.get(KEY_PATH.format(role="snapshot"))
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert key_of(first.content).keytype == "ecdsa"
    assert again.content == first.content, "repeated GETs must not mint new keys (notary quirk 2)"
    assert snapshot.status_code == 200
    assert snapshot.content != first.content

    database = Database(running_stack.db_url)
    with database.read() as session:
        rows = session.scalars(select(ServerKey)).all()
    database.dispose()
    assert sorted((row.role, row.status) for row in rows) == [
        ("snapshot", "pending"),
        ("timestamp", "pending"),
    ]
    public_der = base64.b64decode(key_of(first.content).public)
    timestamp_row = next(row for row in rows if row.role == "timestamp")
    assert timestamp_row.kek_id == "k1"
    assert public_der not in timestamp_row.private_sealed, "the private half is stored sealed"


def test_post_key_rotates_to_a_new_pending_key(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        original = client.get(KEY_PATH.format(role="snapshot")).content
        rotated = client.post(KEY_PATH.format(role="snapshot"))
        after = client.get(KEY_PATH.format(role="snapshot")).content
    assert rotated.status_code == 200
    assert rotated.content != original
    assert after == rotated.content
    database = Database(running_stack.db_url)
    with database.read() as session:
        statuses = sorted(row.status for row in session.scalars(select(ServerKey)))
    database.dispose()
    assert statuses == ["pending", "superseded"], "at most one pending key per (gun, role)"


def test_keys_for_other_roles_are_not_routed(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        for role in ("root", "targets"):
            response = client.get(KEY_PATH.format(role=role))
            assert response.status_code == 404
            assert response.json()["errors"][0]["code"] == "METADATA_NOT_FOUND"


def test_keys_survive_a_restart_of_every_process(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        before = {role: client.get(KEY_PATH.format(role=role)).content for role in ("timestamp", "snapshot")}
    running_stack.stop_all()
    running_stack.start_all()
    with running_stack.client() as client:
        after = {role: client.get(KEY_PATH.format(role=role)).content for role in ("timestamp", "snapshot")}
    assert after == before


def test_prefer_respond_async_answers_202_with_a_job(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        accepted = client.get(KEY_PATH.format(role="timestamp"), headers={"Prefer": "respond-async"})
        assert accepted.status_code == 202
        assert accepted.headers["preference-applied"] == "respond-async"
        location = accepted.headers["location"]
        assert re.fullmatch(r"/v1/jobs/[0-9a-f]{32}", location)
        assert accepted.json()["id"] == location.rsplit("/", 1)[1]

        def finished() -> dict[str, object] | None:
            job = client.get(location).json()
            return job if job["state"] in ("succeeded", "failed") else None

        job = wait_until(finished, 60, what="the job")
        synchronous = client.get(KEY_PATH.format(role="timestamp"))
    assert job["state"] == "succeeded"
    assert job["kind"] == "signer.get_key"
    assert job["gun"] == "example.com/app"
    assert PublicKey(job["result"]["keytype"], job["result"]["public"]).to_json_bytes() == synchronous.content


def test_unknown_job_is_404(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        response = client.get("/v1/jobs/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "JOB_NOT_FOUND"


def test_signer_down_fails_fast_with_503(stack: NotaryStack) -> None:
    stack.start("web")
    stack.start("worker")
    with stack.client() as client:
        response = client.get(KEY_PATH.format(role="timestamp"))
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "SIGNER_UNAVAILABLE"


def test_a_job_slower_than_the_wait_answers_504_with_its_location(stack: NotaryStack) -> None:
    stack.write_config(jobs={"wait_timeout": 1})
    stack.start_all()
    signer = stack.processes["signer"]
    signer.signal_group(signal.SIGSTOP)  # alive (heartbeat still fresh) but making no progress
    try:
        with stack.client() as client:
            response = client.get(KEY_PATH.format(role="timestamp"))
            assert response.status_code == 504
            assert response.json()["errors"][0]["code"] == "JOB_TIMEOUT"
            location = response.headers["location"]
            signer.signal_group(signal.SIGCONT)
            job = wait_until(lambda: (j := client.get(location).json())["state"] == "succeeded" and j, 60)
    finally:
        signer.signal_group(signal.SIGCONT)
    assert job["result"]["role"] == "timestamp"


def test_only_the_signer_consumes_signer_tasks(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        assert client.get(KEY_PATH.format(role="timestamp")).status_code == 200
    worker_log = running_stack.processes["worker"].log_path.read_text()
    signer_log = running_stack.processes["signer"].log_path.read_text()
    assert "signer.get_key" in signer_log
    assert "received" in signer_log
    assert "Task signer.get_key" not in worker_log


@pytest.mark.parametrize(("algorithm", "keytype"), [("ed25519", "ed25519"), ("rsa", "rsa")])
def test_key_algorithm_is_configurable(stack: NotaryStack, algorithm: str, keytype: str) -> None:
    stack.write_config(trust_service={"key_algorithm": algorithm})
    stack.start_all()
    with stack.client() as client:
        response = client.get(KEY_PATH.format(role="timestamp"))
    assert response.status_code == 200
    key = key_of(response.content)
    assert key.keytype == keytype
    key.crypto_key()  # decodes as a real public key of that type
