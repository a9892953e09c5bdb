"""Engines and sessions. Created by the process after it forks, never at import."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
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


def make_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, **options)


def _sqlite_begin(connection: Any) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE), so they queue on busy_timeout instead of
    # failing with "database is locked" half-way through; readers stay deferred and, under WAL, never wait.
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


WRITE_OPTION = "notary_write"


def writer_lock_path(url: str) -> str | None:
    """The file SQLite writers queue on, beside the database file (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return f"{parsed.database}.writers"


class Database:
    """An engine plus a session factory; ``transaction()`` commits on success and rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        writer = self.engine.execution_options(**{WRITE_OPTION: True})
        self._write_sessions = sessionmaker(writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writer_lock_path = writer_lock_path(url)
        self._writing = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._writers_turn(), self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def _writers_turn(self) -> Iterator[None]:
        """On SQLite, wait for this writer's turn on a file lock shared by every process.

        SQLite lets one writer in at a time and has the others poll with sleeps growing to 100 ms, so under
        steady writes from several processes a waiter keeps waking to a taken lock: waits of a second or
        more. The kernel wakes a file lock's waiters the moment it is released, so writers hand over at once.
        (SQLite's own lock and busy timeout still guard any writer that does not come through here.)"""
        if self._writer_lock_path is None:
            yield
            return
        if getattr(self._writing, "active", False):
            # A second write transaction in the same thread would wait for itself forever.
            raise RuntimeError("a write transaction inside another one on the same SQLite database")
        descriptor = os.open(self._writer_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            self._writing.active = True
            try:
                yield
            finally:
                self._writing.active = False
        finally:
            os.close(descriptor)  # releases the lock

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read_sessions() as session:
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1 FROM jobs WHERE 1 = 0"))

    def dispose(self) -> None:
        self.engine.dispose()
