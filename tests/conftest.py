"""Shared fixtures: real servers (tests.support.fixtures) and real Notary processes
(tests.support.processes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.processes import NotaryStack
from tests.support.servers import RedisServer

pytest_plugins = ["tests.support.fixtures"]


@contextmanager
def throwaway_stack(tmp_path: Path, db_url: str) -> Iterator[NotaryStack]:
    """A deployment on ``db_url`` with a Redis of its own and no process started yet; every process it starts
    is stopped afterwards, so nothing of one test can consume another test's queues."""
    redis = RedisServer.start(tmp_path / "redis")
    notary = NotaryStack(tmp_path / "notary", redis.url, db_url)
    try:
        yield notary
    finally:
        notary.stop_all()
        redis.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[NotaryStack]:
    """A throwaway deployment on SQLite."""
    with throwaway_stack(tmp_path, f"sqlite:///{tmp_path}/notary.db") as notary:
        yield notary


@pytest.fixture
def sql_stack(tmp_path: Path, sql_url: str) -> Iterator[NotaryStack]:
    """A throwaway deployment on each SQL backend (sqlite / mariadb / postgres, through ``sql_url``)."""
    with throwaway_stack(tmp_path, sql_url) as notary:
        yield notary


@pytest.fixture
def running_stack(stack: NotaryStack) -> NotaryStack:
    stack.start_all()
    return stack
