"""Eight publishers race on one GUN: every version is stored once, losers get VERSION, and readers always see
a consistent repository (timestamp -> snapshot -> targets hashes agree) while it happens."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from models.db import Database
from models.tables import TufFile
from tests.api.tuf_helpers import new_repo, publish, tuf
from tests.support.processes import NotaryStack
from tests.support.tuf_builder import sign_file, targets_signed

PUBLISHERS = 8
ROUNDS = 3


def consistent_read(client: httpx.Client, gun: str) -> None:
    """Read like a client does and check every hash in the chain against the bytes served."""
    timestamp = client.get(tuf(gun, "timestamp.json"))
    assert timestamp.status_code == 200, timestamp.text
    snapshot_meta = json.loads(timestamp.content)["signed"]["meta"]["snapshot"]
    snapshot_hex = base64.b64decode(snapshot_meta["hashes"]["sha256"]).hex()
    snapshot = client.get(tuf(gun, f"snapshot.{snapshot_hex}.json"))
    assert snapshot.status_code == 200
    assert hashlib.sha256(snapshot.content).hexdigest() == snapshot_hex
    targets_meta = json.loads(snapshot.content)["signed"]["meta"]["targets"]
    targets_hex = base64.b64decode(targets_meta["hashes"]["sha256"]).hex()
    targets = client.get(tuf(gun, f"targets.{targets_hex}.json"))
    assert targets.status_code == 200
    assert hashlib.sha256(targets.content).hexdigest() == targets_hex


def test_concurrent_publishers_store_each_version_once(running_stack: NotaryStack) -> None:
    gun = "race/app"
    with running_stack.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
    base_version = repo.versions["targets"]
    stop_reading = threading.Event()
    read_errors: list[BaseException] = []

    def reader() -> None:
        with running_stack.client() as client:
            while not stop_reading.is_set():
                try:
                    consistent_read(client, gun)
                except BaseException as error:  # reported after the race
                    read_errors.append(error)
                    return

    reading = threading.Thread(target=reader)
    reading.start()
    winners: list[int] = []
    try:
        for round_number in range(ROUNDS):
            version = base_version + 1 + round_number
            uploads = [
                {
                    "targets": sign_file(
                        targets_signed(targets={f"t{round_number}-{i}": b"x"}, version=version),
                        [repo.targets_key],
                    )
                }
                for i in range(PUBLISHERS)
            ]
            barrier = threading.Barrier(PUBLISHERS)

            def race(files: dict[str, bytes], barrier: threading.Barrier = barrier) -> httpx.Response:
                with running_stack.client() as client:
                    barrier.wait(30)
                    return publish(client, gun, files)

            with ThreadPoolExecutor(PUBLISHERS) as pool:
                responses = list(pool.map(race, uploads))
            codes = sorted(r.status_code for r in responses)
            losers = [r.json()["errors"][0]["code"] for r in responses if r.status_code != 200]
            assert codes.count(200) == 1, [r.text for r in responses]
            assert set(losers) == {"VERSION"}
            winners.append(version)
    finally:
        stop_reading.set()
        reading.join(30)
    assert not read_errors, read_errors[0]

    database = Database(running_stack.db_url)
    with database.read() as session:
        rows = session.execute(
            select(TufFile.role, TufFile.version, func.count())
            .where(TufFile.gun == gun)
            .group_by(TufFile.role, TufFile.version)
        ).all()
    database.dispose()
    assert all(count == 1 for _, _, count in rows)
    stored_targets = sorted(version for role, version, _ in rows if role == "targets")
    assert stored_targets == [base_version, *winners]
