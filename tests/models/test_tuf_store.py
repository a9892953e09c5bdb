"""``SqlTufStore.store_update``: versions only go up, and an update planned against a repository that has
changed or been deleted since is refused rather than stored on top of what is there now."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from models.db import Database
from models.jobs import claim, create_job, finish
from models.tuf_files import NewFile, SqlTufStore
from notary.errors import VersionError
from notary.jobs import JobState

GUN = "example.com/race"
ROLES = ("root", "targets", "snapshot", "timestamp")


def _file(role: str, version: int) -> NewFile:
    data = f"{role}-{version}".encode()
    return NewFile(role, version, data, hashlib.sha256(data).hexdigest(), None)


def _update(*versions: tuple[str, int]) -> list[NewFile]:
    return [_file(role, version) for role, version in versions]


def _store(database: Database, files: list[NewFile]) -> None:
    with database.transaction() as session:
        SqlTufStore(session).store_update(GUN, files)


def _versions(database: Database) -> dict[str, int]:
    with database.transaction() as session:
        store = SqlTufStore(session)
        return {role: found.version for role in ROLES if (found := store.latest(GUN, role)) is not None}


def test_each_update_follows_the_stored_timestamp(database: Database) -> None:
    _store(database, _update(("root", 1), ("targets", 1), ("snapshot", 1), ("timestamp", 1)))
    _store(database, _update(("targets", 2), ("snapshot", 2), ("timestamp", 2)))
    assert _versions(database) == {"root": 1, "targets": 2, "snapshot": 2, "timestamp": 2}


def test_an_update_planned_before_a_delete_is_refused_and_the_gun_can_be_created_again(
    database: Database,
) -> None:
    _store(database, _update(("root", 1), ("targets", 1), ("snapshot", 1), ("timestamp", 1)))
    planned_on_version_1 = _update(("targets", 2), ("snapshot", 2), ("timestamp", 2))
    with database.transaction() as session:
        assert SqlTufStore(session).delete_gun(GUN) == 4

    with pytest.raises(VersionError):
        _store(database, planned_on_version_1)
    assert _versions(database) == {}

    _store(database, _update(("root", 1), ("targets", 1), ("snapshot", 1), ("timestamp", 1)))
    assert _versions(database) == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}


def test_an_update_planned_before_another_commit_is_refused(database: Database) -> None:
    _store(database, _update(("root", 1), ("targets", 1), ("snapshot", 1), ("timestamp", 1)))
    _store(database, _update(("timestamp", 2)))  # a refresh landed between plan and commit
    with pytest.raises(VersionError):
        _store(database, _update(("targets", 2), ("snapshot", 2), ("timestamp", 2)))
    with pytest.raises(VersionError):
        _store(database, _update(("targets", 2), ("snapshot", 2), ("timestamp", 4)))
    assert _versions(database) == {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 2}


def test_an_update_without_a_timestamp_is_refused(database: Database) -> None:
    with pytest.raises(VersionError):
        _store(database, _update(("root", 1), ("targets", 1), ("snapshot", 1)))


REFRESH = "tuf.refresh"


def _expiring(gun: str, expires_at: datetime) -> list[NewFile]:
    data = f"timestamp-{gun}".encode()
    return [NewFile("timestamp", 1, data, hashlib.sha256(data).hexdigest(), expires_at)]


def _plant_expiring(database: Database, count: int) -> list[str]:
    """GUNs with a timestamp expiring soon, the first one soonest."""
    soon = datetime.now(UTC) + timedelta(hours=1)
    guns = [f"example.com/expiring-{n}" for n in range(count)]
    with database.transaction() as session:
        for n, gun in enumerate(guns):
            SqlTufStore(session).store_update(gun, _expiring(gun, soon + timedelta(minutes=n)))
    return guns


def _refresh_job(database: Database, gun: str, state: JobState) -> None:
    with database.transaction() as session:
        job = create_job(session, REFRESH, {}, gun=gun)
        if state is not JobState.QUEUED:
            assert claim(session, job.id)
        if state.terminal:
            assert finish(session, job.id, state, error={"code": "INTERNAL"}, result={})


def _due(database: Database, limit: int) -> list[str]:
    with database.transaction() as session:
        return SqlTufStore(session).expiring_timestamps(datetime.now(UTC) + timedelta(days=1), limit, REFRESH)


def test_repositories_that_failed_to_refresh_do_not_starve_the_others(database: Database) -> None:
    stuck, busy, done, due = _plant_expiring(database, 4)
    _refresh_job(database, stuck, JobState.FAILED)
    _refresh_job(database, busy, JobState.RUNNING)
    _refresh_job(database, done, JobState.SUCCEEDED)
    assert _due(database, 2) == [done, due]


def test_a_new_timestamp_makes_a_failed_repository_due_again(database: Database) -> None:
    (stuck,) = _plant_expiring(database, 1)
    _refresh_job(database, stuck, JobState.FAILED)
    assert _due(database, 10) == []
    soon = datetime.now(UTC) + timedelta(hours=2)
    data = b"timestamp-2"
    with database.transaction() as session:
        SqlTufStore(session).store_update(
            stuck, [NewFile("timestamp", 2, data, hashlib.sha256(data).hexdigest(), soon)]
        )
    assert _due(database, 10) == [stuck]
