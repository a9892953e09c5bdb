"""Subscriptions, their deliveries with attempt logs, and the replay of deliveries that gave up."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from models.base import iso_utc, utcnow
from models.tables import Subscription, WebhookDelivery
from models.webhooks import attempts_of, delete_deliveries
from notary.errors import TooManySubscriptionsError
from notary.subscriptions import SubscriptionRequest


@dataclass(frozen=True)
class SubscriptionView:
    """A subscription as the API shows it; never its secret."""

    id: str
    url: str
    events: tuple[str, ...]
    gun_prefix: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "gun_prefix": self.gun_prefix,
            "created_at": iso_utc(self.created_at),
        }


def view(row: Subscription) -> SubscriptionView:
    return SubscriptionView(row.id, row.url, tuple(json.loads(row.events)), row.gun_prefix, row.created_at)


def create(
    session: Session,
    subscription_id: str,
    request: SubscriptionRequest,
    sealed_secret: tuple[str, bytes],
    max_count: int,
) -> SubscriptionView:
    """Store a subscription; ``sealed_secret`` is (KEK id, the secret sealed for ``subscription_id``)."""
    if (session.scalar(select(func.count()).select_from(Subscription)) or 0) >= max_count:
        raise TooManySubscriptionsError({"max_count": max_count})
    kek_id, sealed = sealed_secret
    row = Subscription(
        id=subscription_id,
        url=request.url,
        events=json.dumps(list(request.events)),
        gun_prefix=request.gun_prefix,
        secret_sealed=sealed,
        kek_id=kek_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return view(row)


def new_id() -> str:
    return "sub_" + uuid.uuid4().hex[:28]


def get(session: Session, subscription_id: str) -> Subscription | None:
    return session.get(Subscription, subscription_id)


def list_all(session: Session) -> list[SubscriptionView]:
    return [view(row) for row in session.scalars(select(Subscription).order_by(Subscription.created_at))]


def remove(session: Session, subscription_id: str) -> bool:
    """Delete a subscription with its deliveries and their attempt logs; a delivery under way then finds
    itself gone and records nothing."""
    if session.get(Subscription, subscription_id) is None:
        return False
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == subscription_id)
    delete_deliveries(session, list(session.scalars(deliveries)))
    session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    return True


def delivery_document(session: Session, delivery: WebhookDelivery) -> dict[str, Any]:
    """A delivery with its attempt log, for operators; the body is the event as sent (it holds no secret)."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "type": delivery.event_type,
        "sequence": delivery.sequence,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "created_at": iso_utc(delivery.created_at),
        "next_attempt_at": None if delivery.next_attempt_at is None else iso_utc(delivery.next_attempt_at),
        "delivered_at": None if delivery.delivered_at is None else iso_utc(delivery.delivered_at),
        "event": json.loads(delivery.body),
        "attempt_log": [
            {
                "at": iso_utc(attempt.attempted_at),
                "status_code": attempt.status_code,
                "error": attempt.error,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in attempts_of(session, delivery.id)
        ],
    }


def deliveries(
    session: Session, subscription_id: str, *, state: str | None, after: int, limit: int
) -> list[dict[str, Any]]:
    """A page of a subscription's deliveries, oldest first, after the delivery id ``after``."""
    query = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.id > after
    )
    if state is not None:
        query = query.where(WebhookDelivery.state == state)
    rows = session.scalars(query.order_by(WebhookDelivery.id).limit(limit))
    return [delivery_document(session, row) for row in rows]


def get_delivery(session: Session, subscription_id: str, delivery_id: int) -> WebhookDelivery | None:
    row = session.get(WebhookDelivery, delivery_id)
    return row if row is not None and row.subscription_id == subscription_id else None


def replay(session: Session, subscription_id: str, delivery_ids: list[int] | None = None) -> list[int]:
    """Make failed deliveries pending again with a fresh budget of attempts (their log is kept); all of a
    subscription's failed deliveries when ``delivery_ids`` is None. Returns the ids, in stream order."""
    query = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.state == "failed"
    )
    if delivery_ids is not None:
        query = query.where(WebhookDelivery.id.in_(delivery_ids))
    replayed = list(session.scalars(query.order_by(WebhookDelivery.sequence, WebhookDelivery.id)))
    if replayed:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(replayed), WebhookDelivery.state == "failed")
            .values(state="pending", attempts=0, next_attempt_at=utcnow())
        )
    return replayed
