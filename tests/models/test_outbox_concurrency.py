"""Many writers, dispatchers and deliverers on one GUN at once, each thread on its own connection, on every
backend: sequence numbers are unique, gap-free and in commit order, and every event is delivered exactly
once, in sequence order."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from models import outbox
from models import webhooks as deliveries
from models.base import utcnow
from models.db import Database
from models.tables import OutboxEvent, WebhookAttempt, WebhookDelivery
from notary.subscriptions import stream_of
from tests.models.test_outbox import subscribe
from tests.support.processes import wait_until

GUN = "example.com/acme/busy"
STREAM = stream_of(GUN, None)
WRITERS = 4
EVENTS_PER_WRITER = 10
TOTAL = WRITERS * EVENTS_PER_WRITER
DISPATCHERS = 2
DISPATCH_BATCH = 3  # small, so that dispatchers interleave with each other and with the writers
DELIVERERS = 2
THREAD_TIMEOUT = 120  # only a guard against a hung test; outcomes never depend on timing


@dataclass
class Run:
    """What the threads share: a stop signal, the first error, and what the observer saw."""

    sql_url: str
    writers_done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)
    snapshots: list[list[int]] = field(default_factory=list)

    def thread(self, body: Callable[[Database], None]) -> threading.Thread:
        def run() -> None:
            database = Database(self.sql_url)  # a connection of its own, as each process has
            try:
                body(database)
            except BaseException as error:
                self.errors.append(error)
                self.stop.set()
            finally:
                database.dispose()

        return threading.Thread(target=run)


def write(run: Run, writer: int, start: threading.Barrier) -> Callable[[Database], None]:
    def body(database: Database) -> None:
        database.ping()  # connected, so that the first events, which create the stream's counter, race
        start.wait(THREAD_TIMEOUT)
        for number in range(EVENTS_PER_WRITER):
            with database.transaction() as session:
                data = {"gun": GUN, "writer": writer, "n": number}
                outbox.record(session, "repository.updated", data, gun=GUN)

    return body


def outbox_empty(database: Database) -> bool:
    with database.read() as session:
        return not session.scalar(select(func.count()).select_from(OutboxEvent))


def dispatch(run: Run) -> Callable[[Database], None]:
    def body(database: Database) -> None:
        while not run.stop.is_set():
            with database.transaction() as session:
                handled, _ = outbox.dispatch(session, DISPATCH_BATCH)
            if not handled and run.writers_done.is_set() and outbox_empty(database):
                return

    return body


def deliver(run: Run) -> Callable[[Database], None]:
    """What ``webhooks.deliver`` does with the database, the HTTP request left out: claim, then settle."""

    pending = select(WebhookDelivery.id).where(WebhookDelivery.state == "pending")

    def body(database: Database) -> None:
        while not run.stop.is_set():
            with database.read() as session:
                # Newest first, as if their tasks overtook the earlier ones': only a head may be claimed.
                candidates = list(session.scalars(pending.order_by(WebhookDelivery.id.desc())))
            for delivery_id in candidates:
                with database.transaction() as session:
                    claimed = deliveries.claim_attempt(session, delivery_id, utcnow())
                if claimed is None:
                    continue
                with database.transaction() as session:
                    delivery = session.get_one(WebhookDelivery, delivery_id)
                    deliveries.record_attempt(
                        session,
                        delivery,
                        status_code=200,
                        error=None,
                        duration_ms=0,
                        delivered=True,
                        next_attempt_at=None,
                    )

    return body


def observe(run: Run) -> Callable[[Database], None]:
    """Snapshots of every sequence number committed so far, whether still in the outbox or dispatched."""
    committed = (
        select(OutboxEvent.sequence)
        .where(OutboxEvent.stream == STREAM)
        .union_all(select(WebhookDelivery.sequence).where(WebhookDelivery.stream == STREAM))
    )

    def body(database: Database) -> None:
        while not run.stop.is_set():
            with database.read() as session:
                run.snapshots.append(sorted(session.scalars(committed)))
            run.stop.wait(0.01)

    return body


def delivered_count(database: Database) -> int:
    with database.read() as session:
        query = select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.state == "delivered")
        return session.scalar(query) or 0


def test_concurrent_events_of_one_gun_keep_commit_order_and_are_delivered_once(
    database: Database, sql_url: str
) -> None:
    subscription = subscribe(database, ["repository.updated"])
    run = Run(sql_url)
    start = threading.Barrier(WRITERS)
    writers = [run.thread(write(run, writer, start)) for writer in range(WRITERS)]
    others = [
        *(run.thread(dispatch(run)) for _ in range(DISPATCHERS)),
        *(run.thread(deliver(run)) for _ in range(DELIVERERS)),
        run.thread(observe(run)),
    ]
    for thread in [*others, *writers]:
        thread.start()
    for thread in writers:
        thread.join(THREAD_TIMEOUT)
    run.writers_done.set()
    try:
        wait_until(
            lambda: run.stop.is_set() or delivered_count(database) >= TOTAL,
            THREAD_TIMEOUT,
            what="every event delivered",
        )
    finally:
        run.stop.set()
        for thread in [*others, *writers]:
            thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in [*others, *writers]), "a thread hung"
    if run.errors:
        raise run.errors[0]

    assert run.snapshots, "the observer saw nothing"
    for seen in run.snapshots:
        assert seen == list(range(1, len(seen) + 1)), f"a later event committed before an earlier one: {seen}"

    with database.read() as session:
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        attempts = list(session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
    assert {row.subscription_id for row in rows} == {subscription}
    sequences = [row.sequence for row in rows]
    assert sequences == list(range(1, TOTAL + 1)), "dispatched out of sequence order, with a gap or twice"
    events = [json.loads(row.body)["data"] for row in rows]
    assert sorted((e["writer"], e["n"]) for e in events) == [
        (writer, number) for writer in range(WRITERS) for number in range(EVENTS_PER_WRITER)
    ], "an event was lost or invented"
    for writer in range(WRITERS):
        own = [e["sequence"] for e in events if e["writer"] == writer]
        assert own == sorted(own), "one writer's events were numbered out of its commit order"
    by_id = {row.id: row.sequence for row in rows}
    assert [by_id[attempt.delivery_id] for attempt in attempts] == list(range(1, TOTAL + 1)), (
        "a delivery was attempted twice or out of order"
    )
