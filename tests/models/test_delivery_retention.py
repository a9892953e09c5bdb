"""Settled subscription deliveries and their attempt logs are purged after retention, in batches, on every
backend; pending ones, recently attempted ones, those a pending later event of their stream follows, and job
callbacks stay."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from models import webhooks as deliveries
from models.base import utcnow
from models.db import Database
from models.tables import WebhookAttempt, WebhookDelivery
from models.webhooks import SubscriptionEvent, create_delivery
from tests.models.test_outbox import subscribe

RETENTION = timedelta(days=7)
OLD = timedelta(days=10)
STREAM = "gun:example.com/acme/app"


class Deliveries:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(
        self,
        subscription: str | None,
        state: str,
        attempted: list[timedelta],
        *,
        age: timedelta = OLD,
        stream: str | None = STREAM,
        sequence: int | None = 1,
    ) -> int:
        """A delivery made ``age`` ago, in ``state``, with one attempt per age in ``attempted``."""
        link = None
        if subscription is not None:
            link = SubscriptionEvent(subscription, "evt_" + uuid.uuid4().hex, stream, sequence)
        job_id = None if subscription is not None else uuid.uuid4().hex
        with self.database.transaction() as session:
            delivery_id = create_delivery(
                session, "http://1.1.1.1/h", "repository.updated", b"{}", job_id, link
            )
            row = session.get_one(WebhookDelivery, delivery_id)
            row.state, row.created_at = state, utcnow() - age
            for attempt_age in attempted:
                session.add(
                    WebhookAttempt(
                        delivery_id=delivery_id,
                        attempted_at=utcnow() - attempt_age,
                        status_code=200 if state == "delivered" else 500,
                        duration_ms=1,
                    )
                )
        return delivery_id

    def remaining(self) -> tuple[set[int], set[int]]:
        """The ids of the deliveries left, and of the deliveries whose attempts are left."""
        with self.database.read() as session:
            kept = set(session.scalars(select(WebhookDelivery.id)))
            logged = set(session.scalars(select(WebhookAttempt.delivery_id)))
        return kept, logged

    def purge(self, batch: int) -> int:
        with self.database.transaction() as session:
            return deliveries.purge_settled(session, utcnow() - RETENTION, batch)


def test_settled_deliveries_are_purged_after_retention(database: Database) -> None:
    acme, other = subscribe(database, ["repository.updated"]), subscribe(database, ["repository.updated"])
    rows = Deliveries(database)
    purged = {
        rows.add(acme, "delivered", [OLD]),
        rows.add(acme, "failed", [OLD, OLD - timedelta(days=1)], sequence=2),
        rows.add(acme, "delivered", [OLD], stream=None, sequence=None),  # an event without a GUN
        # acme's pending event below does not hold back another subscription's stream
        rows.add(other, "delivered", [OLD], stream="gun:example.com/acme/busy"),
    }
    kept = {
        rows.add(acme, "pending", [OLD], sequence=3, stream="gun:example.com/acme/slow"),
        rows.add(acme, "delivered", [timedelta(days=1)], age=timedelta(days=1), sequence=4),
        rows.add(acme, "failed", [OLD, timedelta(hours=1)], sequence=5),  # replayed an hour ago
        rows.add(None, "delivered", [OLD]),  # a job's callback goes with its job
        # a settled event stays while a later one of its stream still waits to go out
        rows.add(acme, "delivered", [OLD], stream="gun:example.com/acme/busy", sequence=1),
        rows.add(acme, "pending", [], stream="gun:example.com/acme/busy", sequence=2),
    }

    assert rows.purge(batch=3) == 3, "one batch at a time"
    assert rows.purge(batch=3) == 1
    assert rows.purge(batch=3) == 0

    left, logged = rows.remaining()
    assert left == kept
    assert logged == kept - {max(kept)}, "a purged delivery's attempts go with it; kept ones keep theirs"
    assert not purged & left
