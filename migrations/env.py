"""Alembic environment: the URL and connection come from models.migrate, never from a config file."""

from __future__ import annotations

from alembic import context

from models.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
