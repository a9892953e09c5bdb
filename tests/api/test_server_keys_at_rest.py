"""The server keys at rest, through the real processes: a KEK rotation with publishing working at every
step, a key whose KEK the signer lacks, and the sweep of pending keys no root activated."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from datetime import timedelta

import httpx
from sqlalchemy import select, update

from models.base import utcnow
from models.db import Database
from models.tables import ServerKey
from tests.api.tuf_helpers import assert_error, new_repo, publish, published, server_key, signed_by, tuf
from tests.support.processes import BIN, NotaryStack, wait_until
from tests.support.tuf_builder import Repo

GUN = "example.com/app"


def named_kek(kek_id: str) -> str:
    return f"{kek_id}:" + base64.b64encode(os.urandom(32)).decode()


def rows(stack: NotaryStack) -> list[ServerKey]:
    database = Database(stack.db_url)
    try:
        with database.read() as session:
            return list(session.scalars(select(ServerKey).order_by(ServerKey.id)))
    finally:
        database.dispose()


def kek_ids(stack: NotaryStack) -> set[str]:
    return {row.kek_id for row in rows(stack)}


def restart_signer(stack: NotaryStack, keks: str) -> None:
    stack.processes["signer"].stop()
    stack.kek = keks
    stack.start("signer")


def publish_target(client: httpx.Client, repo: Repo, name: str) -> None:
    published(client, repo.gun, repo.add_target(name, name.encode()))
    timestamp = client.get(tuf(repo.gun, "timestamp.json"))
    assert timestamp.status_code == 200
    assert repo.timestamp_public is not None
    assert signed_by(timestamp.content, "timestamp", repo.timestamp_public)


def metric(stack: NotaryStack, name: str) -> float:
    text = httpx.get(stack.base_url + "/metrics").text
    found = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    assert found is not None, f"{name} not exported"
    return float(found.group(1))


def rewrap_command(stack: NotaryStack, keks: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [str(BIN / "notary-signer"), "-config", str(stack.config_path), "-rewrap"],
        env=stack.env({"NOTARY_SERVER_SIGNER_KEKS": keks}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_kek_rotation_without_downtime(running_stack: NotaryStack) -> None:
    stack = running_stack
    k1, k2 = stack.kek, named_kek("k2")
    with stack.client() as client:
        repo = new_repo(client, GUN, server_snapshot=True)
        publish_target(client, repo, "under-k1")
    assert kek_ids(stack) == {"k1"}

    # 1. The new KEK first, the old one kept: old keys still sign, new keys are sealed under k2.
    restart_signer(stack, f"{k2},{k1}")
    with stack.client() as client:
        publish_target(client, repo, "under-k2-and-k1")
        server_key(client, "example.com/other")
    assert kek_ids(stack) == {"k1", "k2"}

    # 2. The re-wrap, as beat sends it.
    stack.celery().send_task("signer.rewrap_keys")
    wait_until(lambda: kek_ids(stack) == {"k2"}, 60, what="every key re-sealed under k2")
    signer_log = stack.processes["signer"].log_path
    wait_until(lambda: "re-wrap pass done" in signer_log.read_text(), 30, what="the re-wrap report")
    assert metric(stack, "notary_server_keys_rewrapped_total") == 2
    assert metric(stack, "notary_server_keys_awaiting_rewrap") == 0

    # 3. The old KEK removed: everything still signs.
    restart_signer(stack, k2)
    with stack.client() as client:
        publish_target(client, repo, "under-k2")
        assert client.post(tuf(GUN, "snapshot.key")).status_code == 200
    assert k1.split(":")[1] not in signer_log.read_text()


def test_a_key_under_a_missing_kek_fails_clearly_until_rewrapped(running_stack: NotaryStack) -> None:
    stack = running_stack
    k1, k2 = stack.kek, named_kek("k2")
    with stack.client() as client:
        repo = new_repo(client, GUN, server_snapshot=True)

    # The operator dropped k1 before re-wrapping: the repository's keys cannot be opened.
    restart_signer(stack, k2)
    with stack.client() as client:
        refused = publish(client, GUN, repo.add_target("refused", b"x"))
        error = assert_error(refused, 503, "SIGNER_UNAVAILABLE")
        assert "cannot open" in error["detail"]["reason"]
        assert client.get(tuf(GUN, "timestamp.key")).status_code == 200, "keys that need no KEK still answer"
        assert client.get(tuf(GUN, "timestamp.json")).status_code == 200
    assert stack.processes["signer"].running()
    assert '"kek_id": "k1"' in stack.processes["signer"].log_path.read_text()

    # The command says what is left and fails without the old KEK; with it, it re-wraps everything.
    assert rewrap_command(stack, k2) == (1, {"rewrapped": 0, "left": {"k1": 2}})
    assert rewrap_command(stack, f"{k2},{k1}") == (0, {"rewrapped": 2, "left": {}})
    assert kek_ids(stack) == {"k2"}

    with stack.client() as client:  # the running signer, which has only k2, signs again
        repo.versions["targets"] -= 1  # the refused upload was not stored: publish that version again
        publish_target(client, repo, "accepted")


def test_pending_keys_no_root_activated_are_swept(running_stack: NotaryStack) -> None:
    stack = running_stack
    with stack.client() as client:
        repo = new_repo(client, GUN, server_snapshot=True)
        in_use = {server_key(client, GUN, role).key_id for role in ("timestamp", "snapshot")}
        abandoned = server_key(client, "example.com/abandoned").key_id  # never used by a root
        for _ in range(2):  # a rotation never published: one superseded key, one pending
            assert client.post(tuf(GUN, "snapshot.key")).status_code == 200
    database = Database(stack.db_url)
    try:
        with database.transaction() as session:  # eight days pass
            session.execute(update(ServerKey).values(created_at=utcnow() - timedelta(days=8)))
    finally:
        database.dispose()
    statuses = sorted(row.status for row in rows(stack))
    assert statuses == ["active", "active", "pending", "pending", "superseded"]

    stack.celery().send_task("tuf.sweep_pending_keys")  # what beat sends every hour

    wait_until(lambda: {row.key_id for row in rows(stack)} == in_use, 60, what="the sweep")
    assert metric(stack, "notary_server_keys_swept_total") == 3
    with stack.client() as client:
        publish_target(client, repo, "after-the-sweep")
        fresh = server_key(client, "example.com/abandoned").key_id
    assert fresh != abandoned, "a new pending key replaces the swept one"
