"""The shared-key store on every backend: the access list's replay rules and the sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import shared_keys as store
from models.db import Database
from models.tables import AccessListEntry, SharedKey
from notary.errors import NonceMismatchError

PENDING = datetime(2026, 1, 1, tzinfo=UTC)


def add_key(database: Database, identity: str, expires_at: datetime) -> None:
    with database.transaction() as session:
        session.add(
            SharedKey(
                identity=identity,
                dc="dc",
                account="1",
                region="us-east-1",
                image="ami-1",
                instance_id="i-1",
                roles="[]",
                secret_sealed=b"x",
                kek_id="k1",
                ttl=60,
                created_at=expires_at - timedelta(minutes=1),
                expires_at=expires_at,
                max_expires_at=expires_at,
            )
        )


def test_sweep_deletes_expired_keys_and_stale_entries_in_batches(database: Database) -> None:
    now = datetime.now(UTC)
    for n in range(5):
        add_key(database, f"old-{n}", now - timedelta(hours=1))
    add_key(database, "fresh", now + timedelta(hours=1))
    with database.transaction() as session:
        for n in range(3):
            session.add(
                AccessListEntry(
                    instance_id=f"i-{n}",
                    account="1",
                    nonce_sha256="0" * 64,
                    pending_time=PENDING,
                    first_seen=now,
                    last_seen=now,
                    expires_at=now - timedelta(seconds=1),
                )
            )
    with database.transaction() as session:
        first = store.sweep(session, now, timedelta(0), batch=2)
    with database.transaction() as session:
        rest = store.sweep(session, now, timedelta(0), batch=100)
    assert (len(first[0]), first[1]) == (2, 2)
    assert (len(rest[0]), rest[1]) == (3, 1)
    with database.read() as session:
        assert [key.identity for key in session.query(SharedKey)] == ["fresh"]
        assert session.query(AccessListEntry).count() == 0


def test_access_list_replay_rules(database: Database) -> None:
    def login(nonce: str, pending: datetime) -> None:
        with database.transaction() as session:
            store.check_access(
                session,
                instance_id="i-9",
                account="1",
                nonce_sha256=nonce * 64,
                pending_time=pending,
                retention=60,
            )

    login("a", PENDING)
    login("a", PENDING + timedelta(minutes=1))
    with pytest.raises(NonceMismatchError):
        login("b", PENDING + timedelta(minutes=2))
    with pytest.raises(NonceMismatchError):
        login("a", PENDING)  # pendingTime went backwards
