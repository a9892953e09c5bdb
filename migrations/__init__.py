"""Alembic migrations; run through ``models.migrate.upgrade`` (or ``notary-db upgrade``)."""
