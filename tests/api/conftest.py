"""Fixtures shared by the API modules that run one deployment per module (their ``server`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.processes import NotaryStack


@pytest.fixture
def client(server: NotaryStack) -> Iterator[httpx.Client]:
    with server.client() as http:
        yield http
