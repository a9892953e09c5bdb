"""A migrated ``Database`` on each SQL backend (sqlite / mariadb / postgres, through ``sql_url``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from models.db import Database
from models.migrate import upgrade


@pytest.fixture
def empty_database(sql_url: str) -> Iterator[Database]:
    """A ``Database`` on a fresh, empty database; no migration has run."""
    database = Database(sql_url)
    yield database
    database.dispose()


@pytest.fixture
def database(empty_database: Database) -> Database:
    """A ``Database`` whose schema is at head."""
    upgrade(empty_database)
    return empty_database
