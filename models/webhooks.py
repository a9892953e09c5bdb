"""Webhook deliveries and their attempt log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from models.base import utcnow
from models.tables import WebhookAttempt, WebhookDelivery

# While one attempt is under way no other worker may start the same delivery.
ATTEMPT_LEASE = timedelta(minutes=2)


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


def _earlier_pending(delivery: Any) -> Any:
    """Condition: a pending delivery comes before ``delivery`` in its (subscription, stream)."""
    earlier = aliased(WebhookDelivery)
    return (
        select(earlier.id)
        .where(
            earlier.subscription_id == delivery.subscription_id,
            earlier.stream == delivery.stream,
            earlier.sequence < delivery.sequence,
            earlier.state == "pending",
        )
        .exists()
    )


def is_head(session: Session, delivery_id: int) -> bool:
    """Whether nothing earlier of the same (subscription, stream) is still pending. Deliveries leave
    ``pending`` only forwards (replay aside), so a True answer stays true until this one is attempted."""
    blocked = session.scalar(
        select(_earlier_pending(WebhookDelivery)).where(WebhookDelivery.id == delivery_id)
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
            ~_earlier_pending(WebhookDelivery),
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


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    )
    return list(session.scalars(query))


def deliveries_for_job(session: Session, job_id: str) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.id)
    return list(session.scalars(query))
