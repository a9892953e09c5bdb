"""Keeping the server keys at rest, on every SQL backend: re-wrapping them under a new KEK (in batches, with
conditional updates), and deleting the pending keys no root activated."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models.base import utcnow
from models.db import Database
from models.server_keys import (
    SqlServerKeyStore,
    activate_listed,
    delete_unused_pending,
    replace_sealing,
    sealed_elsewhere,
)
from models.tables import ServerKey
from notary.ports import SealedKey
from notary.sealing import seal, server_key_aad, unseal
from notary.tuf.signing import generate_private_key, public_key_for
from tests.models.postgres_locks import NEEDS_POSTGRES, wait_for_a_lock_wait
from workers import key_rewrap
from workers.tuf_tasks import held_keys

K0 = ("k0", os.urandom(32))
K1 = ("k1", os.urandom(32))
K2 = ("k2", os.urandom(32))


def add_key(database: Database, gun: str, role: str, kek: tuple[str, bytes]) -> tuple[str, bytes]:
    """A real key sealed under ``kek`` as the signer seals it; returns (key id, private DER)."""
    private = generate_private_key("ecdsa")
    public = public_key_for(private)
    kek_id, sealed = seal([kek], private, server_key_aad(public.key_id, gun, role))
    with database.transaction() as session:
        SqlServerKeyStore(session).add_pending(gun, role, SealedKey(public, "ecdsa", kek_id, sealed))
    return public.key_id, private


def stored(database: Database) -> dict[str, ServerKey]:
    with database.read() as session:
        return {row.key_id: row for row in session.scalars(select(ServerKey))}


def opens_with(keks: list[tuple[str, bytes]], row: ServerKey) -> bytes:
    return unseal(keks, row.kek_id, row.private_sealed, server_key_aad(row.key_id, row.gun, row.role))


# ------------------------------------------------------------------------------------------- re-wrap


def test_rewrap_reseals_every_key_under_the_first_kek(database: Database) -> None:
    keys = {
        add_key(database, f"example.com/app{n}", role, K1)
        for n in range(3)
        for role in ("timestamp", "snapshot")
    }

    progress = key_rewrap.rewrap(database, [K2, K1])

    assert (progress.rewrapped, progress.finished) == (6, True)
    rows = stored(database)
    assert {row.kek_id for row in rows.values()} == {"k2"}
    # The same private keys, now opening with the new KEK alone.
    assert {(key_id, opens_with([K2], rows[key_id])) for key_id, _ in keys} == keys
    assert key_rewrap.report(database, [K2], progress.rewrapped) == {}
    assert key_rewrap.rewrap(database, [K2, K1]).rewrapped == 0, "a second pass has nothing to do"


def test_rewrap_goes_batch_by_batch_and_resumes_after_the_last_id(database: Database) -> None:
    for n in range(5):
        add_key(database, f"example.com/app{n}", "timestamp", K1)

    first = key_rewrap.rewrap(database, [K2, K1], max_batches=1, batch=2)
    assert (first.rewrapped, first.finished) == (2, False)
    assert sorted(row.kek_id for row in stored(database).values()) == ["k1", "k1", "k1", "k2", "k2"]

    rest = key_rewrap.rewrap(database, [K2, K1], after_id=first.last_id, batch=2)
    assert (rest.rewrapped, rest.finished) == (3, True)
    assert {row.kek_id for row in stored(database).values()} == {"k2"}


def test_keys_under_a_kek_the_signer_lacks_are_passed_over_and_reported(database: Database) -> None:
    # The unopenable keys come first in id order and fill whole batches: paging must step over them.
    lost = {add_key(database, f"lost.example/app{n}", "timestamp", K0)[0] for n in range(3)}
    kept = {add_key(database, f"example.com/app{n}", "timestamp", K1)[0] for n in range(2)}

    progress = key_rewrap.rewrap(database, [K2, K1], batch=2)

    assert (progress.rewrapped, progress.finished) == (2, True)
    rows = stored(database)
    assert {rows[key_id].kek_id for key_id in kept} == {"k2"}
    assert {rows[key_id].kek_id for key_id in lost} == {"k0"}, "left as they were, still openable with k0"
    assert key_rewrap.report(database, [K2, K1], progress.rewrapped) == {"k0": 3}


def test_a_concurrent_rewrap_wins_and_the_stale_one_changes_nothing(database: Database) -> None:
    key_id, private = add_key(database, "example.com/app", "timestamp", K1)
    with database.read() as session:
        (read_by_both,) = sealed_elsewhere(session, "k2", 0, 10)
    aad = server_key_aad(key_id, "example.com/app", "timestamp")
    first, second = seal([K2], private, aad)[1], seal([K2], private, aad)[1]

    with database.transaction() as session:
        assert replace_sealing(session, read_by_both, "k2", first)
    with database.transaction() as session:
        assert not replace_sealing(session, read_by_both, "k2", second)

    assert stored(database)[key_id].private_sealed == first


# ---------------------------------------------------------------------------------- pending cleanup


def backdate(database: Database, key_id: str, age: timedelta) -> None:
    with database.transaction() as session:
        session.execute(update(ServerKey).where(ServerKey.key_id == key_id).values(created_at=utcnow() - age))


def statuses(database: Database) -> dict[str, str]:
    return {key_id: row.status for key_id, row in stored(database).items()}


def test_only_old_keys_no_root_activated_are_deleted(database: Database) -> None:
    week = timedelta(days=7)
    old_pending, _ = add_key(database, "never.example/app", "timestamp", K1)
    new_pending, _ = add_key(database, "never.example/app", "snapshot", K1)
    active, _ = add_key(database, "used.example/app", "timestamp", K1)
    superseded, _ = add_key(database, "used.example/app", "snapshot", K1)
    with database.transaction() as session:
        activate_listed(session, {("used.example/app", "timestamp"): [active]})
        SqlServerKeyStore(session).retire_pending("used.example/app", "snapshot")
    retired, _ = add_key(database, "used.example/app", "snapshot", K1)
    with database.transaction() as session:
        activate_listed(session, {("used.example/app", "snapshot"): [retired]})
        activate_listed(session, {("used.example/app", "snapshot"): []})  # a later root drops it: retired
    for key_id in (old_pending, active, superseded, retired):
        backdate(database, key_id, week + timedelta(hours=1))
    assert statuses(database) == {
        old_pending: "pending",
        new_pending: "pending",
        active: "active",
        superseded: "superseded",
        retired: "retired",
    }

    with database.transaction() as session:
        deleted = delete_unused_pending(session, utcnow() - week, 100)

    assert deleted == 2
    assert statuses(database) == {new_pending: "pending", active: "active", retired: "retired"}


def test_pending_keys_are_deleted_in_batches(database: Database) -> None:
    for n in range(5):
        key_id, _ = add_key(database, f"never.example/app{n}", "timestamp", K1)
        backdate(database, key_id, timedelta(days=30))
    cutoff = utcnow() - timedelta(days=7)
    with database.transaction() as session:
        assert delete_unused_pending(session, cutoff, 2) == 2
    with database.transaction() as session:
        assert delete_unused_pending(session, cutoff, 10) == 3
    with database.transaction() as session:
        assert delete_unused_pending(session, cutoff, 10) == 0
    assert stored(database) == {}


def test_the_sweep_waits_for_a_commit_that_holds_its_signing_key(database: Database) -> None:
    """A commit locks the keys it signed with (``held_keys(lock=True)``) until it has activated the root
    listing them; a sweep of old pending keys running meanwhile waits, then finds the key active and keeps
    it. Without the lock it would delete the key the stored root names."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip(NEEDS_POSTGRES)
    gun = "race.example/app"
    key_id, _ = add_key(database, gun, "timestamp", K1)
    backdate(database, key_id, timedelta(days=30))
    swept: dict[str, int] = {}

    def sweep() -> None:
        with database.transaction() as session:
            swept["deleted"] = delete_unused_pending(session, utcnow() - timedelta(days=7), 100)

    with database.transaction() as commit:
        assert set(held_keys(commit, {key_id}, lock=True)) == {key_id}
        sweeper = threading.Thread(target=sweep)
        sweeper.start()
        wait_for_a_lock_wait(database, "the sweep to wait for the commit's lock on the key")
        activate_listed(commit, {(gun, "timestamp"): [key_id]})
    sweeper.join(30)
    assert swept == {"deleted": 0}
    assert statuses(database) == {key_id: "active"}
