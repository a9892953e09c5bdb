"""Several GUNs' updates stored together (a bulk publish batch): each atomic and on its own, on every backend,
also when a concurrent writer takes one GUN's version first."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import ChangefeedEntry, TufFile
from models.tuf_files import NewFile, SqlTufStore
from notary.errors import VersionError
from tests.models.postgres_locks import NEEDS_POSTGRES, wait_for_a_lock_wait


def update(version: int, *roles: str) -> list[NewFile]:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    return [
        NewFile(
            role, version, data := f"{role} {version}".encode(), hashlib.sha256(data).hexdigest(), expires
        )
        for role in roles
    ]


def stored(database: Database) -> set[tuple[str, str, int]]:
    with database.read() as session:
        return {(f.gun, f.role, f.version) for f in session.scalars(select(TufFile))}


def test_a_stale_or_repeated_update_is_refused_alone(database: Database) -> None:
    with database.transaction() as session:
        SqlTufStore(session).store_update("stale", update(1, "targets", "timestamp"))
        SqlTufStore(session).store_update("newer", update(1, "timestamp"))
    with database.transaction() as session:
        refused = SqlTufStore(session).store_updates(
            {
                "fresh": update(1, "root", "targets", "timestamp"),
                "stale": update(1, "targets", "timestamp"),
                "repeated": [*update(1, "targets"), *update(1, "targets"), *update(1, "timestamp")],
                "skipping": update(3, "timestamp"),  # the stored timestamp it follows is not there
                "newer": update(2, "timestamp"),
            }
        )
    assert set(refused) == {"stale", "repeated", "skipping"}
    assert all(isinstance(error, VersionError) for error in refused.values())
    assert stored(database) == {
        ("stale", "targets", 1),
        ("stale", "timestamp", 1),
        ("newer", "timestamp", 1),
        ("newer", "timestamp", 2),
        ("fresh", "root", 1),
        ("fresh", "targets", 1),
        ("fresh", "timestamp", 1),
    }
    with database.read() as session:
        feed = {(entry.gun, entry.version) for entry in session.scalars(select(ChangefeedEntry))}
    assert feed == {("stale", 1), ("newer", 1), ("newer", 2), ("fresh", 1)}, "one row per stored timestamp"


def test_a_concurrent_writer_that_wins_a_version_fails_only_that_gun(database: Database) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip(NEEDS_POSTGRES)
    outcome: dict[str, object] = {}
    with database.transaction() as first:
        SqlTufStore(first).store_update("contended", update(1, "timestamp"))  # not committed yet

        def second_writer() -> None:
            with database.transaction() as session:
                outcome["refused"] = set(
                    SqlTufStore(session).store_updates(
                        {"contended": update(1, "timestamp"), "free": update(1, "timestamp")}
                    )
                )

        thread = threading.Thread(target=second_writer)
        thread.start()
        wait_for_a_lock_wait(database, "the second writer to wait on the first one's row")
    thread.join(30)
    assert outcome["refused"] == {"contended"}
    assert stored(database) == {("contended", "timestamp", 1), ("free", "timestamp", 1)}
