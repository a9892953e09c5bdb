"""SqlServerKeyStore: one pending key per (gun, role) at most; an active key wins over a pending one."""

from __future__ import annotations

from sqlalchemy import func, select

from models.db import Database
from models.server_keys import SqlServerKeyStore
from models.tables import ServerKey, TufFile
from notary.ports import SealedKey, StoredKey
from notary.tuf.signing import generate_private_key, public_key_for

GUN = "example.com/app"


def sealed_key() -> SealedKey:
    public_key = public_key_for(generate_private_key("ecdsa"))
    return SealedKey(public_key=public_key, algorithm="ecdsa", kek_id="k1", sealed_private=b"sealed-private")


def same_key(found: StoredKey | None, expected: StoredKey) -> bool:
    return found is not None and found == expected


def add_pending(database: Database, gun: str, role: str, key: SealedKey) -> None:
    with database.transaction() as session:
        SqlServerKeyStore(session).add_pending(gun, role, key)


def rows(database: Database, gun: str = GUN, role: str = "timestamp") -> list[ServerKey]:
    with database.read() as session:
        query = select(ServerKey).where(ServerKey.gun == gun, ServerKey.role == role).order_by(ServerKey.id)
        return list(session.scalars(query))


def test_add_pending_then_current_returns_it(database: Database) -> None:
    key = sealed_key()
    with database.transaction() as session:
        stored = SqlServerKeyStore(session).add_pending(GUN, "timestamp", key)
    assert stored.public_key == key.public_key
    assert (stored.gun, stored.role, stored.status) == (GUN, "timestamp", "pending")
    assert stored.algorithm == "ecdsa"
    with database.read() as session:
        store = SqlServerKeyStore(session)
        assert same_key(store.current(GUN, "timestamp"), stored)
        assert same_key(store.pending(GUN, "timestamp"), stored)
        row = store.sealed_private(key.public_key.key_id)
    assert row is not None
    assert (row.private_sealed, row.kek_id, row.pending_slot) == (key.sealed_private, "k1", 1)


def test_second_add_pending_returns_the_winner_and_keeps_the_transaction_usable(database: Database) -> None:
    first, second = sealed_key(), sealed_key()
    add_pending(database, GUN, "timestamp", first)

    with database.transaction() as session:
        store = SqlServerKeyStore(session)
        winner = store.add_pending(GUN, "timestamp", second)
        assert winner.public_key == first.public_key
        # The failed insert was rolled back to its savepoint only: this transaction still reads and writes.
        assert store.current(GUN, "timestamp") == winner
        session.add(TufFile(gun=GUN, role="root", version=1, data=b"{}", sha256="0" * 64))

    stored = rows(database)
    assert [(row.key_id, row.status, row.pending_slot) for row in stored] == [
        (first.public_key.key_id, "pending", 1)
    ]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(TufFile)) == 1


def test_retire_pending_frees_the_slot(database: Database) -> None:
    first, second = sealed_key(), sealed_key()
    add_pending(database, GUN, "timestamp", first)

    with database.transaction() as session:
        SqlServerKeyStore(session).retire_pending(GUN, "timestamp")
    with database.read() as session:
        store = SqlServerKeyStore(session)
        assert store.pending(GUN, "timestamp") is None
        assert store.current(GUN, "timestamp") is None

    with database.transaction() as session:
        stored = SqlServerKeyStore(session).add_pending(GUN, "timestamp", second)
    assert stored.public_key == second.public_key

    assert [(row.key_id, row.status, row.pending_slot) for row in rows(database)] == [
        (first.public_key.key_id, "superseded", None),
        (second.public_key.key_id, "pending", 1),
    ]


def test_current_prefers_the_active_key_over_a_newer_pending_one(database: Database) -> None:
    active, pending = sealed_key(), sealed_key()
    add_pending(database, GUN, "timestamp", active)
    with database.transaction() as session:
        row = session.scalars(select(ServerKey).where(ServerKey.key_id == active.public_key.key_id)).one()
        row.status, row.pending_slot = "active", None
    add_pending(database, GUN, "timestamp", pending)

    with database.read() as session:
        store = SqlServerKeyStore(session)
        current = store.current(GUN, "timestamp")
        waiting = store.pending(GUN, "timestamp")
    assert current is not None
    assert (current.public_key, current.status) == (active.public_key, "active")
    assert waiting is not None
    assert waiting.public_key == pending.public_key


def test_keys_of_other_guns_and_roles_are_not_returned(database: Database) -> None:
    add_pending(database, GUN, "timestamp", sealed_key())
    with database.read() as session:
        store = SqlServerKeyStore(session)
        assert store.current(GUN, "snapshot") is None
        assert store.current("example.com/other", "timestamp") is None
        assert store.pending("example.com", "timestamp") is None


def test_gun_prefixes_stay_separate(database: Database) -> None:
    ab, abc = sealed_key(), sealed_key()
    add_pending(database, "a/b", "timestamp", ab)
    with database.transaction() as session:
        stored = SqlServerKeyStore(session).add_pending("a/bc", "timestamp", abc)
    assert stored.public_key == abc.public_key  # its own slot, not a/b's winner

    with database.read() as session:
        store = SqlServerKeyStore(session)
        for gun, key in (("a/b", ab), ("a/bc", abc)):
            current = store.current(gun, "timestamp")
            assert current is not None
            assert (current.gun, current.public_key) == (gun, key.public_key)
        assert store.current("a/", "timestamp") is None
        assert store.current("a", "timestamp") is None
