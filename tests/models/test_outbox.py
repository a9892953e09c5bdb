"""The event outbox on every backend: events only for subscribers, per-stream sequences, dispatch into
deliveries, and only the head of a (subscription, stream) deliverable."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from models import outbox
from models import subscriptions as records
from models import webhooks as deliveries
from models.base import utcnow
from models.db import Database
from models.tables import OutboxEvent, WebhookDelivery
from notary.subscriptions import parse_request

GUN = "example.com/acme/app"


@pytest.fixture
def triggers() -> Iterator[list[int]]:
    fired: list[int] = []
    outbox.set_dispatch_trigger(lambda: fired.append(1))
    yield fired
    outbox.set_dispatch_trigger(None)


def subscribe(database: Database, events: list[str], gun_prefix: str | None = None) -> str:
    document: dict[str, object] = {"url": "http://1.1.1.1/hook", "events": events}
    if gun_prefix is not None:
        document["gun_prefix"] = gun_prefix
    subscription_id = records.new_id()
    with database.transaction() as session:
        records.create(session, subscription_id, parse_request(document), ("k", b"sealed"), 10)
    return subscription_id


def record(database: Database, gun: str, number: int) -> None:
    with database.transaction() as session:
        outbox.record(session, "repository.updated", {"gun": gun, "n": number}, gun=gun)


def outbox_size(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(OutboxEvent)) or 0


def test_nothing_is_recorded_without_a_subscriber(database: Database, triggers: list[int]) -> None:
    subscribe(database, ["repository.deleted"])
    record(database, GUN, 1)
    assert outbox_size(database) == 0
    assert triggers == []


def test_a_rolled_back_change_records_no_event(database: Database, triggers: list[int]) -> None:
    subscribe(database, ["repository.updated"])

    def failing_change() -> None:
        with database.transaction() as session:
            outbox.record(session, "repository.updated", {"gun": GUN}, gun=GUN)
            raise RuntimeError("the change fails after recording its event")

    with pytest.raises(RuntimeError):
        failing_change()
    assert outbox_size(database) == 0
    assert triggers == []


def test_events_are_dispatched_in_stream_order_and_only_heads_are_deliverable(
    database: Database, triggers: list[int]
) -> None:
    acme = subscribe(database, ["repository.updated"], gun_prefix="example.com/acme/")
    for number in (1, 2, 3):
        record(database, GUN, number)
    record(database, "example.com/other/app", 1)  # no subscriber wants it
    assert outbox_size(database) == 3
    assert triggers == [1, 1, 1]

    with database.transaction() as session:
        handled, created = outbox.dispatch(session, 100)
    assert handled == 3
    assert outbox_size(database) == 0
    with database.read() as session:
        rows = [session.get_one(WebhookDelivery, delivery_id) for delivery_id in created]
        bodies = [json.loads(row.body) for row in rows]
    assert [body["data"]["sequence"] for body in bodies] == [1, 2, 3]
    assert [body["data"]["n"] for body in bodies] == [1, 2, 3]
    assert all(row.subscription_id == acme for row in rows)

    first, second, third = created
    with database.transaction() as session:
        assert deliveries.due_deliveries(session, utcnow(), 10) == [first]
        assert deliveries.claim_attempt(session, second, utcnow()) is None, "waits for the first"
        head = deliveries.claim_attempt(session, first, utcnow())
        assert head is not None
        deliveries.record_attempt(
            session, head, status_code=200, error=None, duration_ms=1, delivered=True, next_attempt_at=None
        )
    with database.read() as session:  # looked up after the settling commit, as the worker does
        assert deliveries.next_in_stream(session, head) == second
    with database.transaction() as session:
        assert deliveries.due_deliveries(session, utcnow(), 10) == [second]
        assert deliveries.claim_attempt(session, third, utcnow()) is None
        assert deliveries.claim_attempt(session, second, utcnow()) is not None
