"""The transactional outbox of change events.

``record`` is called inside the transaction of the change itself. It writes an event only when some
subscription wants it (so a server nobody subscribes to pays one small read per change), gives it the next
sequence number of its stream (see ``EventStream``), and marks the session; after that session commits, the
process's dispatch trigger runs (it sends the dispatcher task). A lost trigger only delays the events: beat
runs the dispatcher too.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from models.base import iso_utc, table_of, utcnow
from models.tables import EventStream, OutboxEvent, Subscription
from models.webhooks import SubscriptionEvent, create_delivery
from notary.subscriptions import matches, stream_of

log = logging.getLogger("notary.events")

_RECORDED = "notary_events_recorded"
_FILTERS = "notary_subscription_filters"
Filter = tuple[str, tuple[str, ...], str | None]  # (subscription id, events, gun prefix)

_dispatch_trigger: Callable[[], None] | None = None
# Core, built once: it runs in every change's transaction, and the ORM's per-call work was most of its cost.
# Subscriptions are flushed as they are written (models/subscriptions.py), so no autoflush is missed.
_subscriptions = table_of(Subscription)
_SUBSCRIPTION_FILTERS = select(_subscriptions.c.id, _subscriptions.c.events, _subscriptions.c.gun_prefix)


def set_dispatch_trigger(trigger: Callable[[], None] | None) -> None:
    """What this process does after committing events: send the dispatcher task."""
    global _dispatch_trigger
    _dispatch_trigger = trigger


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info.pop(_FILTERS, None)
    if not session.info.pop(_RECORDED, False) or _dispatch_trigger is None:
        return
    try:
        _dispatch_trigger()
    except Exception:
        # The change is committed; its events wait for the beat run of the dispatcher instead.
        log.warning("could not trigger the event dispatcher; beat will pick the events up", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_RECORDED, None)
    session.info.pop(_FILTERS, None)


def subscription_filters(session: Session) -> list[Filter]:
    """Every subscription's filter, read once per transaction (a sweep records hundreds of events)."""
    cached: list[Filter] | None = session.info.get(_FILTERS)
    if cached is None:
        rows = session.execute(_SUBSCRIPTION_FILTERS)
        cached = [(sid, tuple(json.loads(events)), prefix) for sid, events, prefix in rows]
        session.info[_FILTERS] = cached
    return cached


def wanted(session: Session, event_type: str, gun: str | None = None) -> bool:
    """Whether some subscription receives this event."""
    return any(
        matches(events, prefix, event_type, gun) for _, events, prefix in subscription_filters(session)
    )


def _next_sequence(session: Session, stream: str) -> int:
    """Increment the stream's counter, creating it on first use; the row lock lasts until commit."""
    session.execute(_increment(session.get_bind().dialect.name, stream))
    sequence = session.scalar(select(EventStream.last_sequence).where(EventStream.stream == stream))
    assert sequence is not None
    return sequence


def _increment(dialect: str, stream: str) -> Executable:
    """One upsert statement. An UPDATE, then an INSERT when it found no row, deadlocks on MySQL: the empty
    UPDATE of each first writer takes a gap lock that the other writer's INSERT then waits behind."""
    counter = EventStream.__table__.c.last_sequence
    if dialect in ("mysql", "mariadb"):
        return (
            mysql.insert(EventStream)
            .values(stream=stream, last_sequence=1)
            .on_duplicate_key_update(last_sequence=counter + 1)
        )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(EventStream)
        .values(stream=stream, last_sequence=1)
        .on_conflict_do_update(index_elements=[EventStream.stream], set_={"last_sequence": counter + 1})
    )


def record(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    *,
    gun: str | None = None,
    identity: str | None = None,
) -> None:
    """Write an event in the caller's transaction, if anyone subscribed to it. ``data`` must hold no secret:
    it is sent as is."""
    if not wanted(session, event_type, gun):
        return
    stream = stream_of(gun, identity)
    sequence = None if stream is None else _next_sequence(session, stream)
    session.add(
        OutboxEvent(
            event_id="evt_" + uuid.uuid4().hex,
            created_at=utcnow(),
            event_type=event_type,
            gun=gun,
            stream=stream,
            sequence=sequence,
            data=json.dumps(data, separators=(",", ":"), sort_keys=True),
        )
    )
    session.info[_RECORDED] = True


def forget_streams(session: Session, streams: list[str]) -> None:
    """Drop the counters of streams that can have no further events (a deleted shared key)."""
    if streams:
        session.execute(delete(EventStream).where(EventStream.stream.in_(streams)))


def take_batch(session: Session, limit: int) -> list[OutboxEvent]:
    """The oldest events, locked so that a concurrent dispatcher waits and then skips them."""
    query = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit).with_for_update()
    return list(session.scalars(query))


def dispatch(session: Session, limit: int) -> tuple[int, list[int]]:
    """Turn up to ``limit`` events into one delivery per matching subscription and delete them, in the
    caller's transaction; returns (events handled, new delivery ids)."""
    events = take_batch(session, limit)
    if not events:
        return 0, []
    subscriptions = list(session.scalars(select(Subscription)))
    filters = {row.id: tuple(json.loads(row.events)) for row in subscriptions}
    created: list[int] = []
    for row in events:
        body = message_body(row)
        for subscription in subscriptions:
            if not matches(filters[subscription.id], subscription.gun_prefix, row.event_type, row.gun):
                continue
            link = SubscriptionEvent(subscription.id, row.event_id, row.stream, row.sequence)
            created.append(create_delivery(session, subscription.url, row.event_type, body, None, link))
    session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_([row.id for row in events])))
    return len(events), created


def message_body(row: OutboxEvent) -> bytes:
    """The Standard Webhooks payload: ``type``, ``timestamp`` and ``data``, which carries the event id and,
    for ordered events, the stream's sequence number (so receivers can check the order themselves)."""
    data = json.loads(row.data)
    data["event_id"] = row.event_id
    if row.sequence is not None:
        data["sequence"] = row.sequence
    payload = {"type": row.event_type, "timestamp": iso_utc(row.created_at), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
