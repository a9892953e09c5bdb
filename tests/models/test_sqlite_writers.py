"""SQLite writers queue on a file lock beside the database, retried within a millisecond of its release,
instead of on SQLite's busy handler, whose sleeps grow to 100 ms (seconds of waiting under steady writes from
several processes). The turn lasts from BEGIN IMMEDIATE to the end of the transaction, not a moment longer.
Within a process, writers wait on a thread lock: only the one whose turn is next tries the file lock."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.db import Database, writer_lock_path


def lock_is_free(path: str) -> bool:
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True


def new_database(tmp_path: Path, **options: float) -> Database:
    database = Database(f"sqlite:///{tmp_path}/notary.db", **options)
    with database.transaction() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
    return database


def database_and_lock(tmp_path: Path, **options: float) -> tuple[Database, str]:
    database = new_database(tmp_path, **options)
    lock = writer_lock_path(database.url)
    assert lock == f"{tmp_path}/notary.db.writers"
    return database, lock


def test_a_write_transaction_holds_the_writers_lock_until_it_ends(tmp_path: Path) -> None:
    database, lock = database_and_lock(tmp_path)
    with database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert not lock_is_free(lock)
    assert lock_is_free(lock)
    with pytest.raises(ZeroDivisionError):
        insert_then_fail(database)
    assert lock_is_free(lock), "a rolled-back transaction gives up its turn too"
    with database.read() as session:
        session.execute(text("SELECT 1"))
        assert lock_is_free(lock), "readers never take it"
    database.dispose()


def insert_then_fail(database: Database) -> None:
    with database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
        raise ZeroDivisionError


def test_the_turn_ends_before_after_commit_work(tmp_path: Path) -> None:
    """After-commit hooks (e.g. sending the event dispatcher to Redis) must not hold every writer up."""
    database, lock = database_and_lock(tmp_path)
    seen: list[bool] = []
    with database.transaction() as session:
        event.listen(session, "after_commit", lambda _session: seen.append(lock_is_free(lock)))
        session.execute(text("INSERT INTO t VALUES (1)"))
    assert seen == [True]
    database.dispose()


def test_a_second_writer_waits_for_the_first_to_commit(tmp_path: Path) -> None:
    first = new_database(tmp_path)
    second = Database(first.url)
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with first.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(30)
            order.append("first commits")

    def write() -> None:
        with second.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second writes")

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    waiter = threading.Thread(target=write)
    waiter.start()
    waiter.join(0.3)
    assert order == [], "the second writer must wait for its turn"
    release.set()
    holder.join(30)
    waiter.join(30)
    assert order == ["first commits", "second writes"]
    first.dispose()
    second.dispose()


def test_threads_of_one_process_wait_for_their_turn_without_polling_the_file_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the thread whose turn it is in its process tries the file lock: on a busy server the others'
    polls (a system call and a wake-up each) cost more CPU than the writes."""
    database = new_database(tmp_path)
    real_flock = fcntl.flock
    tries: list[int] = []

    def counted_flock(descriptor: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX:
            tries.append(operation)
        real_flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", counted_flock)
    inside = threading.Event()
    release = threading.Event()
    waiting = threading.Barrier(5)

    def hold() -> None:
        with database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(30)

    def write() -> None:
        waiting.wait(30)
        with database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    writers = [threading.Thread(target=write) for _ in range(4)]
    for writer in writers:
        writer.start()
    waiting.wait(30)
    holder.join(0.2)  # the writers wait meanwhile; polling, each would try the file lock every millisecond
    release.set()
    for thread in (holder, *writers):
        thread.join(30)
    assert len(tries) == 5, "each transaction finds the file lock free at its first try"
    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 5
    database.dispose()


def test_waiting_for_a_turn_is_bounded_by_the_busy_timeout(tmp_path: Path) -> None:
    database, lock = database_and_lock(tmp_path, busy_timeout=0.3)
    held = os.open(lock, os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)  # a writer that never finishes
    try:
        with pytest.raises(OperationalError, match="database is locked"), database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        os.close(held)
    with database.transaction() as session:  # and the turn comes once it is free
        session.execute(text("INSERT INTO t VALUES (1)"))
    database.dispose()


def test_a_write_transaction_nested_in_another_is_refused_not_a_deadlock(tmp_path: Path) -> None:
    database = new_database(tmp_path)
    with database.transaction() as outer:
        outer.execute(text("INSERT INTO t VALUES (1)"))
        with pytest.raises(RuntimeError, match="inside another"), database.transaction() as inner:
            inner.execute(text("INSERT INTO t VALUES (2)"))
    database.dispose()


def test_other_databases_have_no_writers_lock() -> None:
    assert writer_lock_path("postgresql+psycopg://u@h/db") is None
    assert writer_lock_path("sqlite://") is None
    assert writer_lock_path("sqlite:///:memory:") is None


def test_sessions_are_plain_sqlalchemy_sessions(tmp_path: Path) -> None:
    database = new_database(tmp_path)
    with database.transaction() as session:
        assert isinstance(session, Session)
    database.dispose()
