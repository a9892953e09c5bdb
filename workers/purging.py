"""Beat's purges of rows past their retention: in batches, one short transaction each, so that a large
backlog never holds locks for long."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from models.base import utcnow
from workers import runtime

BATCH = 200
PurgeBatch = Callable[[Session, datetime, int], int]


def purge_older_than(retention_option: str, purge_batch: PurgeBatch, log: logging.Logger, what: str) -> int:
    """Call ``purge_batch(session, cutoff, BATCH)``, which deletes at most BATCH rows that are older than the
    ``retention_option`` seconds, until a batch comes back short; logs and returns how many rows went."""
    cutoff = utcnow() - timedelta(seconds=runtime.current().settings[retention_option])
    purged = 0
    while True:
        with runtime.current().database.transaction() as session:
            deleted = purge_batch(session, cutoff, BATCH)
        purged += deleted
        if deleted < BATCH:
            break
    if purged:
        log.info(f"purged {what}", extra={"count": purged})
    return purged
