"""Celery side: the app, the base task that owns job state, and thin tasks per domain."""
