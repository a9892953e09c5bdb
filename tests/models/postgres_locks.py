"""For concurrency tests on PostgreSQL: see that another connection is blocked on a lock."""

from __future__ import annotations

from sqlalchemy import text

from models.db import Database
from tests.support.processes import wait_until

NEEDS_POSTGRES = "needs row-level write concurrency and pg_stat_activity to see the wait"


def wait_for_a_lock_wait(database: Database, what: str) -> None:
    """Return once some session of ``database`` waits on a lock (bounded; raises with ``what``)."""
    # Autocommit: PostgreSQL snapshots pg_stat_activity at its first read in a transaction, so polling
    # inside one transaction would see only the sessions as they were at the first poll.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as monitor:
        wait_until(
            lambda: monitor.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar(),
            30,
            what=what,
        )
