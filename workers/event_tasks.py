"""The event dispatcher on the ``webhooks`` queue: sent after every commit that recorded events, and run by
beat as a safety net. It fans each outbox event out to the matching subscriptions as deliveries and deletes
it, in one transaction, so an event is delivered to each subscription once or, after a crash, not yet."""

from __future__ import annotations

import logging

from models import outbox
from workers import runtime
from workers.app import DISPATCH_TASK, celery_app
from workers.webhook_tasks import deliver

log = logging.getLogger("notary.events")
BATCH = 200


@celery_app.task(name=DISPATCH_TASK)
def dispatch_events() -> int:
    handled_total = 0
    while True:
        with runtime.current().database.transaction() as session:
            handled, created = outbox.dispatch(session, BATCH)
        for delivery_id in created:  # a delivery waiting behind an earlier one of its stream is skipped
            deliver.delay(delivery_id)
        handled_total += handled
        if handled < BATCH:
            break
    if handled_total:
        log.info("dispatched events", extra={"count": handled_total})
    return handled_total
