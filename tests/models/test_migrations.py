"""Alembic brings an empty database to head on every backend, and head is exactly what the models say."""

from __future__ import annotations

import pprint

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from models.db import Database
from models.migrate import is_current, upgrade
from models.tables import Base

EXPECTED_TABLES = {
    "tuf_files",
    "changefeed",
    "server_keys",
    "jobs",
    "webhook_deliveries",
    "webhook_attempts",
    "shared_keys",
    "shared_key_audit",
    "access_list",
    "bulk_items",
    "idempotency_keys",
    "subscriptions",
    "outbox_events",
    "event_streams",
}


def test_upgrade_makes_an_empty_database_current(empty_database: Database) -> None:
    assert not is_current(empty_database)
    upgrade(empty_database)
    assert is_current(empty_database)


def test_upgrade_is_idempotent(empty_database: Database) -> None:
    upgrade(empty_database)
    upgrade(empty_database)
    assert is_current(empty_database)
    empty_database.ping()


def test_all_expected_tables_exist(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert tables >= EXPECTED_TABLES | {"alembic_version"}
    assert set(Base.metadata.tables) == EXPECTED_TABLES


def test_migrated_schema_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], "models and migrations differ:\n" + pprint.pformat(diff)
