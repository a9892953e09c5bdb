"""SQLite writers queue on a file lock beside the database, which the kernel hands over the moment it is
released, instead of on SQLite's busy handler, whose sleeps grow to 100 ms (seconds of waiting under steady
writes from several processes)."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import Database, writer_lock_path


def lock_is_free(path: str) -> bool:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


def test_a_write_transaction_holds_the_writers_lock_until_it_ends(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/notary.db")
    lock = writer_lock_path(database.url)
    assert lock == f"{tmp_path}/notary.db.writers"
    with database.transaction() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        assert not lock_is_free(lock)
    assert lock_is_free(lock)
    with pytest.raises(ZeroDivisionError), database.transaction():
        1 / 0  # noqa: B018
    assert lock_is_free(lock), "a rolled-back transaction releases the lock too"
    with database.read() as session:
        session.execute(text("SELECT 1"))
        assert lock_is_free(lock), "readers never take it"
    database.dispose()


def test_a_second_writer_waits_for_the_first_to_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/notary.db"
    first, second = Database(url), Database(url)
    with first.transaction() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(30)
            order.append("first commits")

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    waiter = threading.Thread(target=lambda: _write(second, order))
    waiter.start()
    release.set()
    holder.join(30)
    waiter.join(30)
    assert order == ["first commits", "second writes"]
    first.dispose()
    second.dispose()


def _write(database: Database, order: list[str]) -> None:
    with database.transaction() as session:
        order.append("second writes")
        session.execute(text("INSERT INTO t VALUES (2)"))


def test_a_write_transaction_nested_in_another_is_refused_not_a_deadlock(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/notary.db")
    with (
        database.transaction(),
        pytest.raises(RuntimeError, match="inside another"),
        database.transaction(),
    ):
        pass
    database.dispose()


def test_other_databases_have_no_writers_lock() -> None:
    assert writer_lock_path("postgresql+psycopg://u@h/db") is None
    assert writer_lock_path("sqlite://") is None
    assert writer_lock_path("sqlite:///:memory:") is None
