"""Persistence: typed SQLAlchemy models, engine and session factories, and the stores the tasks use."""
