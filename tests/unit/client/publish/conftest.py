from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.client.publish.scripted import ScriptedServer
from tests.unit.client.servers import running


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with running(ScriptedServer()) as server:
        yield server
