"""A restart of every process in the middle of a series of publishes loses nothing that was acknowledged."""

from __future__ import annotations

import json
import threading

import httpx
from sqlalchemy import select

from models.db import Database
from models.tables import TufFile
from tests.api.tuf_helpers import new_repo, publish, tuf
from tests.support.processes import NotaryStack, wait_until
from tests.support.tuf_builder import sign_file, targets_signed

PUBLISHES = 20


def test_restart_mid_series_loses_no_acknowledged_publish(running_stack: NotaryStack) -> None:
    gun = "restart/app"
    with running_stack.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
    first = repo.versions["targets"] + 1
    acknowledged: list[int] = []
    outcomes: dict[int, str] = {}

    def publisher() -> None:
        for version in range(first, first + PUBLISHES):
            files = {
                "targets": sign_file(
                    targets_signed(targets={f"v{version}": b"x"}, version=version), [repo.targets_key]
                )
            }
            while True:  # like an operator retrying: the same upload until it is answered
                try:
                    with running_stack.client() as client:
                        response = publish(client, gun, files)
                except httpx.HTTPError:
                    continue
                if response.status_code == 200:
                    acknowledged.append(version)
                    outcomes[version] = "ok"
                    break
                code = response.json()["errors"][0]["code"]
                if code == "VERSION":  # an earlier, unanswered attempt of this upload was committed
                    outcomes[version] = "already"
                    break
                if code not in ("SIGNER_UNAVAILABLE", "JOB_TIMEOUT", "UNKNOWN"):
                    outcomes[version] = code
                    return

    thread = threading.Thread(target=publisher)
    thread.start()
    wait_until(lambda: len(acknowledged) >= 5, 60, what="some publishes before the restart")
    running_stack.stop_all()
    running_stack.start_all()
    thread.join(300)
    assert not thread.is_alive()

    assert len(outcomes) == PUBLISHES, outcomes
    assert set(outcomes.values()) <= {"ok", "already"}, outcomes
    database = Database(running_stack.db_url)
    with database.read() as session:
        stored = set(
            session.scalars(select(TufFile.version).where(TufFile.gun == gun, TufFile.role == "targets"))
        )
    database.dispose()
    assert set(acknowledged) <= stored
    assert set(range(first, first + PUBLISHES)) <= stored
    with running_stack.client() as client:
        current = json.loads(client.get(tuf(gun, "targets.json")).content)["signed"]
    assert current["version"] == first + PUBLISHES - 1
