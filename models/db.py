"""Engines and sessions. Created by the process after it forks, never at import."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

# notary-server's MySQL DSN: user:password@tcp(host:port)/dbname?params
_GO_MYSQL_DSN = re.compile(r"^(?P<user>[^:@]*)(?::(?P<password>.*))?@tcp\((?P<addr>[^)]*)\)/(?P<db>[^?]*)")


def sqlalchemy_url(db_url: str, backend: str) -> str:
    """Accept notary-server's own ``storage.db_url`` spellings as well as SQLAlchemy URLs."""
    if backend == "mysql":
        match = _GO_MYSQL_DSN.match(db_url)
        if match:
            credentials = quote(match["user"], safe="")
            if match["password"] is not None:
                credentials += ":" + quote(match["password"], safe="")
            return f"mysql+pymysql://{credentials}@{match['addr']}/{match['db']}?charset=utf8mb4"
        if db_url.startswith("mysql://"):
            return "mysql+pymysql://" + db_url.removeprefix("mysql://")
    if backend == "postgres":
        for scheme in ("postgres://", "postgresql://"):
            if db_url.startswith(scheme):
                url = "postgresql+psycopg://" + db_url.removeprefix(scheme)
                # libpq's sslmode is understood by psycopg as is.
                return url
    return db_url


def make_engine(url: str, *, busy_timeout: float = 30.0, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": busy_timeout, "factory": _QueuedWriterConnection}, **options
        )
        lock_path = writer_lock_path(url)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, busy_timeout)
            if lock_path is not None:
                dbapi_connection.open_writers_lock(lock_path, busy_timeout)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, **options)


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE), so they queue instead of failing with "database
    # is locked" half-way through; readers stay deferred and, under WAL, never wait.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    if not immediate:
        connection.exec_driver_sql("BEGIN")
        return
    # Every SQLite connection of ours comes from make_engine's factory.
    dbapi_connection: _QueuedWriterConnection = connection.connection.dbapi_connection
    try:
        dbapi_connection.wait_for_writers_turn()
    except sqlite3.OperationalError as locked:  # as SQLAlchemy reports SQLite's own: a transient error
        raise OperationalError("BEGIN IMMEDIATE", None, locked) from None
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.end_writers_turn()
        raise


def _sqlite_pragmas(dbapi_connection: Any, busy_timeout: float) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    cursor.close()


def writer_lock_path(url: str) -> str | None:
    """The file SQLite writers queue on, beside the database file (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return f"{parsed.database}.writers"


_writing = threading.local()  # whether this thread is between BEGIN IMMEDIATE and the end of its transaction

_process_turns: dict[str, threading.Lock] = {}  # per writers' lock file: the turn within this process
_process_turns_guard = threading.Lock()


def _process_turn(path: str) -> threading.Lock:
    with _process_turns_guard:
        return _process_turns.setdefault(path, threading.Lock())


def _forget_process_turns() -> None:
    # A forked child has no writer yet; its copy of a turn that a parent's thread held would stay taken.
    global _process_turns, _process_turns_guard
    _process_turns = {}
    _process_turns_guard = threading.Lock()


os.register_at_fork(after_in_child=_forget_process_turns)


def _no_turn() -> sqlite3.OperationalError:
    return sqlite3.OperationalError("database is locked (no turn among its writers)")


class _QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions first wait for their turn on a file lock shared by every
    process, and give the turn up the moment the transaction ends (before any after-commit work).

    SQLite lets one writer in at a time and has the others poll with sleeps growing to 100 ms, so under steady
    writes from several processes a waiter kept waking to a taken lock: waits of a second or more. Here a
    waiter retries within a millisecond of the release, up to the busy timeout, after which it fails as
    SQLite would ("database is locked"). SQLite's own lock still guards any writer that does not queue here.

    Within a process, writers first wait on a thread lock, so only one thread per process polls the file
    lock. Each poll is a system call and a wake-up, some 40 µs of CPU here; with every waiting thread polling,
    a busy API process polled about a dozen times per turn, half as much CPU again as the write itself. The
    turns are thus shared out between processes rather than threads (in no set order within a process): a
    process with many writing threads no longer gets a turn for each of them against one from a process with
    a single writer.
    """

    _writers_lock: int | None = None
    _writers_turn: threading.Lock | None = None  # this process's turn at the lock file
    _writers_timeout = 30.0
    _holding = False

    def open_writers_lock(self, path: str, timeout: float) -> None:
        # Read-only is enough to lock it, so processes running as other users can share it.
        self._writers_lock = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        self._writers_turn = _process_turn(os.path.realpath(path))  # one per file, however it is spelled
        self._writers_timeout = timeout

    def wait_for_writers_turn(self) -> None:
        if self._writers_lock is None or self._writers_turn is None:
            return
        if getattr(_writing, "active", False):
            # A second write transaction in the same thread would wait for the first one, which waits for it.
            raise RuntimeError("a write transaction inside another one on the same SQLite database")
        deadline = time.monotonic() + self._writers_timeout
        turn = self._writers_turn
        if not turn.acquire(timeout=self._writers_timeout):
            raise _no_turn()
        self._holding = True
        try:
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(self._writers_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _no_turn() from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except BaseException:
            self._holding = False
            turn.release()
            raise
        _writing.active = True

    def end_writers_turn(self) -> None:
        if self._holding and self._writers_lock is not None and self._writers_turn is not None:
            self._holding = False
            _writing.active = False
            try:
                fcntl.flock(self._writers_lock, fcntl.LOCK_UN)
            finally:
                self._writers_turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_writers_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_writers_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_writers_turn()
            if self._writers_lock is not None:
                os.close(self._writers_lock)
                self._writers_lock = None


WRITE_OPTION = "notary_write"


class Database:
    """An engine plus a session factory; ``transaction()`` commits on success and rolls back on error."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout=busy_timeout)
        writer = self.engine.execution_options(**{WRITE_OPTION: True})
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM jobs WHERE 1 = 0"))

    def dispose(self) -> None:
        self.engine.dispose()
