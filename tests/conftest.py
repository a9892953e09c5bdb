"""Shared fixtures: real servers (tests.support.fixtures) and real Notary processes
(tests.support.processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import NotaryStack
from tests.support.servers import RedisServer

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[NotaryStack]:
    """A deployment on SQLite with a Redis of its own and no process started yet; every process it starts
    is stopped afterwards, so nothing of one test can consume another test's queues."""
    redis = RedisServer.start(tmp_path / "redis")
    notary = NotaryStack(tmp_path / "notary", redis.url, f"sqlite:///{tmp_path}/notary.db")
    yield notary
    notary.stop_all()
    redis.stop()


@pytest.fixture
def running_stack(stack: NotaryStack) -> NotaryStack:
    stack.start_all()
    return stack
