"""``SqlTufStore.store_update``: versions only go up, and an update planned against a repository that has
changed or been deleted since is refused rather than stored on top of what is there now."""

from __future__ import annotations

import hashlib

import pytest

from models.db import Database
from models.tuf_files import NewFile, SqlTufStore
from notary.errors import VersionError

GUN = "example.com/race"


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
        return SqlTufStore(session).max_versions(GUN)


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
