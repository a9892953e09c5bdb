"""SQLite writers queue on a file lock beside the database, retried within a millisecond of its release,
instead of on SQLite's busy handler, whose sleeps grow to 100 ms (seconds of waiting under steady writes from
several processes). The turn lasts from BEGIN IMMEDIATE to the end of the transaction, not a moment longer.
Within a process, writers wait on a thread lock: only the one whose turn is next tries the file lock."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from models.db import Database, writer_lock_path
from tests.support.processes import wait_until


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
    written = threading.Event()

    def write() -> None:
        insert(second, 2)
        written.set()

    waiter = threading.Thread(target=write)
    with a_writer_inside_a_transaction(first):
        waiter.start()
        assert not written.wait(0.3), "the second writer must wait for its turn"
    waiter.join(30)
    assert written.is_set()
    first.dispose()
    second.dispose()


@contextmanager
def a_writer_inside_a_transaction(database: Database) -> Iterator[None]:
    """Another thread of this process holds a write transaction (and so the turn) until the block ends."""
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with database.transaction() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(30)
    try:
        yield
    finally:
        release.set()
        holder.join(30)


@pytest.fixture
def flock_tries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every try to take a file lock from now on (each a system call), counted as it passes through."""
    real_flock = fcntl.flock
    tries: list[int] = []

    def counted_flock(descriptor: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX:
            tries.append(operation)
        real_flock(descriptor, operation)

    monkeypatch.setattr(fcntl, "flock", counted_flock)
    return tries


def test_threads_of_one_process_wait_for_their_turn_without_polling_the_file_lock(
    tmp_path: Path, flock_tries: list[int]
) -> None:
    """Only the thread whose turn it is in its process tries the file lock: on a busy server the others'
    polls (a system call and a wake-up each) cost half as much CPU again as the writes."""
    database = new_database(tmp_path)
    flock_tries.clear()
    waiting = threading.Barrier(5)

    def write() -> None:
        waiting.wait(30)
        insert(database, 2)

    writers = [threading.Thread(target=write) for _ in range(4)]
    with a_writer_inside_a_transaction(database):
        for writer in writers:
            writer.start()
        waiting.wait(30)
        time.sleep(0.2)  # the writers wait meanwhile; polling, each would try the file lock every millisecond
    for writer in writers:
        writer.join(30)
    assert len(flock_tries) == 5, "each transaction finds the file lock free at its first try"
    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 5
    database.dispose()


def test_waiting_behind_a_writer_of_the_same_process_is_bounded_by_the_busy_timeout(tmp_path: Path) -> None:
    database = new_database(tmp_path, busy_timeout=0.3)
    with a_writer_inside_a_transaction(database), pytest.raises(OperationalError, match="database is locked"):
        insert(database, 2)
    insert(database, 3)  # and the turn comes once it is free
    database.dispose()


def test_a_forked_child_takes_turns_of_its_own(tmp_path: Path, flock_tries: list[int]) -> None:
    """A child forked while a parent's thread holds its process's turn (waiting for the file lock, which
    another process holds) still writes once the file lock is free: its copy of that turn is not taken."""
    database, lock = database_and_lock(tmp_path)
    database.dispose()  # no SQLite connection crosses the fork (SQLite's own rule)
    other_process = os.open(lock, os.O_RDONLY)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    flock_tries.clear()
    writer = threading.Thread(target=insert, args=(database, 1))
    writer.start()
    wait_until(lambda: len(flock_tries) >= 2, 30, what="the parent's writer to poll the file lock")
    child = os.fork()
    if child == 0:  # pragma: no cover - the child answers through its exit status
        status = 1
        try:
            insert(Database(database.url, busy_timeout=10), 2)
            status = 0
        finally:
            os._exit(status)
    fcntl.flock(other_process, fcntl.LOCK_UN)
    os.close(other_process)
    writer.join(30)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child got no turn"
    with database.read() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    database.dispose()


def insert(database: Database, value: int) -> None:
    with database.transaction() as session:
        session.execute(text("INSERT INTO t VALUES (:value)"), {"value": value})


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
