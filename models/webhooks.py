"""Webhook deliveries and their attempt log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, aliased

from models.base import utcnow
from models.tables import WebhookAttempt, WebhookDelivery

# While one attempt is under way no other worker may start the same delivery.
ATTEMPT_LEASE = timedelta(minutes=2)
SETTLED = ("delivered", "failed")


@dataclass(frozen=True)
class SubscriptionEvent:
    """What ties a delivery to a subscription, and its place in the subscription's order."""

    subscription_id: str
    event_id: str
    stream: str | None
    sequence: int | None


def create_delivery(
    session: Session,
    url: str,
    event_type: str,
    body: bytes,
    job_id: str | None,
    subscription: SubscriptionEvent | None = None,
) -> int:
    delivery = WebhookDelivery(
        message_id="msg_" + uuid.uuid4().hex,
        job_id=job_id,
        event_type=event_type,
        url=url,
        body=body,
        state="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    if subscription is not None:
        delivery.subscription_id = subscription.subscription_id
        delivery.event_id = subscription.event_id
        delivery.stream = subscription.stream
        delivery.sequence = subscription.sequence
    session.add(delivery)
    session.flush()
    return delivery.id


def _pending_in_stream(delivery: Any, *, earlier: bool) -> Any:
    """Condition: a pending delivery comes before (or, with ``earlier=False``, after) ``delivery`` in its
    (subscription, stream)."""
    other = aliased(WebhookDelivery)
    place = other.sequence < delivery.sequence if earlier else other.sequence > delivery.sequence
    return (
        select(other.id)
        .where(
            other.subscription_id == delivery.subscription_id,
            other.stream == delivery.stream,
            place,
            other.state == "pending",
        )
        .exists()
    )


def is_head(session: Session, delivery_id: int) -> bool:
    """Whether nothing earlier of the same (subscription, stream) is still pending. Deliveries leave
    ``pending`` only forwards (replay aside), so a True answer stays true until this one is attempted."""
    blocked = session.scalar(
        select(_pending_in_stream(WebhookDelivery, earlier=True)).where(WebhookDelivery.id == delivery_id)
    )
    return not blocked


def claim_attempt(session: Session, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Lease a due, pending delivery that is the head of its stream; None if it is not."""
    # Checked by a SELECT first: MySQL cannot UPDATE a table filtered by a subquery on that same table.
    if not is_head(session, delivery_id):
        return None
    claimed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == "pending",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
        )
        .values(next_attempt_at=now + ATTEMPT_LEASE)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    return session.get(WebhookDelivery, delivery_id)


def record_attempt(
    session: Session,
    delivery: WebhookDelivery,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    delivered: bool,
    next_attempt_at: datetime | None,
) -> None:
    session.add(
        WebhookAttempt(delivery_id=delivery.id, status_code=status_code, error=error, duration_ms=duration_ms)
    )
    delivery.attempts += 1
    if delivered:
        delivery.state = "delivered"
        delivery.delivered_at = utcnow()
        delivery.next_attempt_at = None
    elif next_attempt_at is None:
        delivery.state = "failed"
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = next_attempt_at


def due_deliveries(session: Session, now: datetime, limit: int) -> list[int]:
    """Pending deliveries whose time has come and that head their stream (the rest wait their turn)."""
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now,
            ~_pending_in_stream(WebhookDelivery, earlier=True),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def next_in_stream(session: Session, delivery: WebhookDelivery) -> int | None:
    """The delivery that becomes the head once ``delivery`` is settled."""
    if delivery.stream is None:
        return None
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.subscription_id == delivery.subscription_id,
            WebhookDelivery.stream == delivery.stream,
            WebhookDelivery.sequence > delivery.sequence,
            WebhookDelivery.state == "pending",
        )
        .order_by(WebhookDelivery.sequence)
        .limit(1)
    )
    return session.scalar(query)


def purge_settled(session: Session, settled_before: datetime, batch: int) -> int:
    """Delete up to ``batch`` deliveries of subscriptions, with their attempt logs, that settled (delivered,
    or gave up) before ``settled_before``: none of their attempts is later, so a replay counts afresh.
    Pending ones are never touched, and a settled one stays while a later one of its stream is pending, so
    a stream in flight keeps its history (and a failed event can still be replayed ahead of the rest).
    Job callbacks go with their job instead."""
    attempted_since = select(WebhookAttempt.id).where(
        WebhookAttempt.delivery_id == WebhookDelivery.id, WebhookAttempt.attempted_at >= settled_before
    )
    candidates = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id.is_not(None),
        WebhookDelivery.state.in_(SETTLED),
        ~attempted_since.exists(),
        ~_pending_in_stream(WebhookDelivery, earlier=False),
    )
    found = list(session.scalars(candidates.limit(batch)))
    if not found:
        return 0
    # Locked and checked again: one replayed meanwhile is pending now; a replay from now on waits for us.
    still_settled = WebhookDelivery.id.in_(found), WebhookDelivery.state.in_(SETTLED)
    doomed = list(session.scalars(select(WebhookDelivery.id).where(*still_settled).with_for_update()))
    delete_deliveries(session, doomed)
    return len(doomed)


def delete_deliveries(session: Session, delivery_ids: list[int]) -> None:
    """Delete deliveries with their attempt logs."""
    if delivery_ids:
        session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids)))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(delivery_ids)))


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    )
    return list(session.scalars(query))


def deliveries_for_job(session: Session, job_id: str) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.id)
    return list(session.scalars(query))
