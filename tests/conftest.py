"""Shared fixtures: real servers (tests.support.fixtures) and real Notary processes
(tests.support.processes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import NotaryStack, fresh_redis_url
from tests.support.servers import RedisServer

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer) -> Iterator[NotaryStack]:
    """A deployment on SQLite with no process started yet; every process it starts is stopped afterwards."""
    notary = NotaryStack(
        tmp_path / "notary", fresh_redis_url(redis_server.url), f"sqlite:///{tmp_path}/notary.db"
    )
    yield notary
    notary.stop_all()


@pytest.fixture
def running_stack(stack: NotaryStack) -> NotaryStack:
    stack.start_all()
    return stack
