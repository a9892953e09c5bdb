"""Webhook deliveries and their attempt log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.base import utcnow
from models.tables import WebhookAttempt, WebhookDelivery

# While one attempt is under way no other worker may start the same delivery.
ATTEMPT_LEASE = timedelta(minutes=2)


def create_delivery(session: Session, url: str, event_type: str, body: bytes, job_id: str | None) -> int:
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
    session.add(delivery)
    session.flush()
    return delivery.id


def claim_attempt(session: Session, delivery_id: int, now: datetime) -> WebhookDelivery | None:
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
    query = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def attempts_of(session: Session, delivery_id: int) -> list[WebhookAttempt]:
    query = (
        select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
    )
    return list(session.scalars(query))


def deliveries_for_job(session: Session, job_id: str) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.job_id == job_id).order_by(WebhookDelivery.id)
    return list(session.scalars(query))
