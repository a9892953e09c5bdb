"""Column types and constraints behave the same on every backend."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, StatementError

from models.db import Database
from models.tables import ServerKey, TufFile

GUN = "example.com/app"
PLUS_FIVE = timezone(timedelta(hours=5))


def tuf_file(role: str = "root", version: int = 1, data: bytes = b"{}", gun: str = GUN) -> TufFile:
    return TufFile(gun=gun, role=role, version=version, data=data, sha256=hashlib.sha256(data).hexdigest())


def server_key(gun: str = GUN, role: str = "timestamp", **overrides: object) -> ServerKey:
    values: dict[str, object] = {
        "key_id": uuid.uuid4().hex,
        "gun": gun,
        "role": role,
        "algorithm": "ecdsa",
        "keytype": "ecdsa",
        "public": "cHVibGlj",
        "private_sealed": b"sealed",
        "kek_id": "k1",
        "status": "pending",
        "pending_slot": 1,
    }
    values.update(overrides)
    return ServerKey(**values)


def test_aware_datetime_comes_back_as_the_same_instant_in_utc(database: Database) -> None:
    written = datetime(2024, 3, 1, 4, 30, 15, 123456, tzinfo=PLUS_FIVE)  # microseconds survive everywhere
    with database.transaction() as session:
        row = tuf_file()
        row.created_at = written
        session.add(row)
    with database.read() as session:
        created_at = session.scalars(select(TufFile.created_at)).one()
    assert created_at == written
    assert created_at.tzinfo is UTC
    assert created_at == datetime(2024, 2, 29, 23, 30, 15, 123456, tzinfo=UTC)


def test_naive_datetime_is_refused(database: Database) -> None:
    row = tuf_file()
    row.created_at = datetime(2024, 3, 1, 4, 30, 15)  # naive: the point of the test
    with pytest.raises(StatementError) as raised, database.transaction() as session:
        session.add(row)
    assert isinstance(raised.value.orig, ValueError)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(TufFile)) == 0


def test_tuf_file_version_is_unique_per_gun_and_role(database: Database) -> None:
    with database.transaction() as session:
        session.add(tuf_file(version=1))
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(tuf_file(version=1, data=b'{"other": true}'))
    with database.transaction() as session:
        session.add_all([tuf_file(version=2), tuf_file(role="targets", version=1)])
    with database.read() as session:
        rows = session.execute(select(TufFile.role, TufFile.version).order_by(TufFile.id)).all()
    assert [tuple(row) for row in rows] == [("root", 1), ("root", 2), ("targets", 1)]


def test_large_blob_round_trips_byte_exact(database: Database) -> None:
    data = os.urandom(2 * 1024 * 1024)
    with database.transaction() as session:
        session.add(tuf_file(data=data))
    with database.read() as session:
        stored = session.scalars(select(TufFile.data)).one()
    assert len(stored) == len(data)
    assert stored == data


def test_only_one_pending_server_key_per_gun_and_role(database: Database) -> None:
    with database.transaction() as session:
        session.add(server_key())
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(server_key())
    with database.transaction() as session:  # other roles and GUNs have their own slot
        session.add_all([server_key(role="snapshot"), server_key(gun="example.com/other")])
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(ServerKey)) == 3


def test_any_number_of_non_pending_server_keys(database: Database) -> None:
    with database.transaction() as session:
        session.add(server_key())
        session.add_all(server_key(status=status, pending_slot=None) for status in ("superseded",) * 3)
        session.add(server_key(status="active", pending_slot=None))
    with database.read() as session:
        slots = session.scalars(select(ServerKey.pending_slot).order_by(ServerKey.id)).all()
    assert slots == [1, None, None, None, None]
