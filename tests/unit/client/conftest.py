from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.client.servers import CaptureServer, NotaryStandIn, running


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with running(CaptureServer()) as server:
        yield server


@pytest.fixture
def notary() -> Iterator[NotaryStandIn]:
    with running(NotaryStandIn()) as server:
        yield server
