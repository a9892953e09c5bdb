"""Webhook delivery on the ``webhooks`` queue: Standard Webhooks signatures, exponential backoff, a bounded
number of attempts, and every attempt recorded. Short waits are Celery countdowns; longer ones are picked
up by the ``webhooks.retry_due`` beat task, so no message sits in a worker past the broker's
visibility window."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import httpx
from sqlalchemy.orm import Session

from models import jobs as job_records
from models import subscriptions as subscription_records
from models import webhooks as deliveries
from models.base import iso_utc, utcnow
from models.tables import WebhookDelivery
from notary import webhooks
from notary.sealing import SealingError, unseal
from notary.settings import Settings
from notary.subscriptions import secret_aad, secret_sealing_keys
from workers import metrics, runtime
from workers.app import celery_app
from workers.purging import purge_older_than
from workers.webhook_targets import RefusedTarget, loggable, resolve

log = logging.getLogger("notary.webhooks")
COUNTDOWN_LIMIT_SECONDS = 60
MAX_BACKOFF_SECONDS = 3600
BATCH = 200


def backoff_seconds(base: float, attempts_made: int) -> float:
    return float(min(base * 2 ** (attempts_made - 1), MAX_BACKOFF_SECONDS))


def schedule_job_webhook(job_id: str) -> None:
    """Queue a ``job.finished`` event for the job's callback_url, if it has one."""
    state = runtime.current()
    with state.database.transaction() as session:
        job = job_records.get_job(session, job_id)
        if job is None or not job.callback_url:
            return
        if not state.settings["webhooks.secret"]:
            log.error(
                "job has a callback_url but webhooks.secret is not configured", extra={"job_id": job_id}
            )
            return
        payload = {
            "type": "job.finished",
            "timestamp": iso_utc(utcnow()),
            "data": job_records.view(job).to_dict(),
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        delivery_id = deliveries.create_delivery(session, job.callback_url, "job.finished", body, job_id)
    deliver.delay(delivery_id)


class Undeliverable(Exception):
    """This delivery can never succeed as configured (no secret to sign with); not retried."""


def signing_secret(session: Session, delivery: WebhookDelivery, settings: Settings) -> str:
    """A job callback is signed with ``webhooks.secret``; a subscription's delivery with its own secret."""
    server_secret: str | None = settings["webhooks.secret"]
    if not server_secret:
        raise Undeliverable("webhooks.secret is not configured")
    if delivery.subscription_id is None:
        return server_secret
    subscription = subscription_records.get(session, delivery.subscription_id)
    if subscription is None:
        raise Undeliverable("the subscription was deleted")
    try:
        return unseal(
            secret_sealing_keys(server_secret),
            subscription.kek_id,
            subscription.secret_sealed,
            secret_aad(subscription.id),
        ).decode()
    except SealingError:
        raise Undeliverable("the subscription's secret does not open; was webhooks.secret changed?") from None


@celery_app.task(name="webhooks.deliver")
def deliver(delivery_id: int) -> str:
    """One attempt of one delivery; a subscription's delivery only when it heads its stream."""
    state = runtime.current()
    settings = state.settings
    now = utcnow()
    status_code: int | None = None
    error: str | None = None
    final = False
    with state.database.transaction() as session:
        delivery = deliveries.claim_attempt(session, delivery_id, now)
        if delivery is None:
            return "skipped"
        url, body, message_id = delivery.url, delivery.body, delivery.message_id
        try:
            secret = signing_secret(session, delivery, settings)
        except Undeliverable as exc:
            error, final = f"undeliverable: {exc}", True
    started = time.monotonic()
    if not final:
        try:
            target, extra_headers = resolve(url, settings["webhooks.allow_private_targets"])
            headers = {**webhooks.headers(secret, message_id, int(time.time()), body), **extra_headers}
            response = httpx.post(target, content=body, headers=headers, timeout=settings["webhooks.timeout"])
            status_code = response.status_code
        except RefusedTarget as exc:
            error, final = f"refused: {exc}"[:500], True
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    delivered = status_code is not None and 200 <= status_code < 300
    with state.database.transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:  # its subscription was deleted meanwhile
            return "skipped"
        attempts_made = delivery.attempts + 1
        retry_in = None
        if not delivered and not final and attempts_made < settings["webhooks.max_attempts"]:
            retry_in = backoff_seconds(settings["webhooks.backoff_base"], attempts_made)
        deliveries.record_attempt(
            session,
            delivery,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
            delivered=delivered,
            next_attempt_at=None if retry_in is None else utcnow() + timedelta(seconds=retry_in),
        )
    outcome = "delivered" if delivered else ("retrying" if retry_in is not None else "failed")
    metrics.WEBHOOK_ATTEMPTS.labels(outcome=outcome).inc()
    log.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery_id,
            "status_code": status_code,
            "outcome": outcome,
            "url": loggable(url),
        },
    )
    if retry_in is None:
        send_next_in_stream(delivery)
    elif retry_in <= COUNTDOWN_LIMIT_SECONDS:
        deliver.apply_async(args=[delivery_id], countdown=retry_in)
    return outcome


def send_next_in_stream(settled: WebhookDelivery) -> None:
    """Once a delivery has settled, the next one of its stream may go. Looked up after the settling commit,
    never inside it: a dispatcher that commits that next delivery meanwhile is then either seen here, or
    commits after this lookup, so that its own ``deliver`` task finds this one settled. Either way the
    stream moves on without waiting for beat."""
    with runtime.current().database.read() as session:
        next_head = deliveries.next_in_stream(session, settled)
    if next_head is not None:
        deliver.delay(next_head)


@celery_app.task(name="webhooks.retry_due")
def retry_due() -> int:
    with runtime.current().database.transaction() as session:
        due = deliveries.due_deliveries(session, utcnow(), BATCH)
    for delivery_id in due:
        deliver.delay(delivery_id)
    return len(due)


@celery_app.task(name="webhooks.purge_settled")
def purge_settled() -> int:
    """Beat: delete subscription deliveries settled longer ago than ``webhooks.retention``, in batches."""
    return purge_older_than("webhooks.retention", deliveries.purge_settled, log, "settled deliveries")
