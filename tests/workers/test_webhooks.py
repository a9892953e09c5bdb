"""Job webhooks: Standard Webhooks signatures checked by an independent receiver, retries with backoff, a
bounded number of attempts, every attempt recorded, and no secret in what is sent."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from models import webhooks as deliveries
from models.db import Database
from models.tables import WebhookDelivery
from notary import webhooks
from tests.support.processes import NotaryStack, wait_until
from tests.support.receiver import Received, Receiver

SECRET = webhooks.new_secret()
KEY_PATH = "/v2/hooks/app/_trust/tuf/timestamp.key"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def independently_verified(request: Received) -> bool:
    """What a receiver following standardwebhooks.com computes, without using our code."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())


def configure(stack: NotaryStack, max_attempts: int) -> None:
    stack.write_config(
        webhooks={
            "secret": SECRET,
            "max_attempts": max_attempts,
            "backoff_base": 0.2,
            "allow_private_targets": True,
        }
    )
    stack.start_all()


def delivery_rows(stack: NotaryStack) -> list[tuple[WebhookDelivery, list[int | None]]]:
    database = Database(stack.db_url)
    with database.read() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        result = [(row, [a.status_code for a in deliveries.attempts_of(session, row.id)]) for row in rows]
    database.dispose()
    return result


def test_job_webhook_is_signed_retried_and_logged(stack: NotaryStack, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 200]
    configure(stack, max_attempts=5)
    with stack.client() as client:
        response = client.get(KEY_PATH, params={"callback_url": receiver.url + "/hook"})
    assert response.status_code == 200

    received = wait_until(lambda: len(r := receiver.received()) >= 3 and r, 60, what="three attempts")
    assert all(independently_verified(request) for request in received)
    assert len({request.headers["webhook-id"] for request in received}) == 1, "retries keep the message id"
    event = json.loads(received[-1].body)
    assert event["type"] == "job.finished"
    assert event["data"]["state"] == "succeeded"
    assert event["data"]["result"]["keytype"] == "ecdsa"

    rows = wait_until(lambda: (r := delivery_rows(stack)) and r[0][0].state == "delivered" and r, 30)
    ((delivery, statuses),) = rows
    assert delivery.attempts == 3
    assert statuses == [500, 503, 200]
    for request in received:
        assert SECRET.encode() not in request.body
        assert stack.kek.split(":")[1].encode() not in request.body


def test_delivery_gives_up_after_max_attempts(stack: NotaryStack, receiver: Receiver) -> None:
    receiver.statuses = [500]
    configure(stack, max_attempts=2)
    with stack.client() as client:
        assert client.get(KEY_PATH, params={"callback_url": receiver.url + "/hook"}).status_code == 200
    rows = wait_until(lambda: (r := delivery_rows(stack)) and r[0][0].state == "failed" and r, 60)
    ((delivery, statuses),) = rows
    assert delivery.attempts == 2
    assert statuses == [500, 500]


def test_unreachable_receiver_is_recorded_as_an_error(stack: NotaryStack, receiver: Receiver) -> None:
    configure(stack, max_attempts=1)
    closed_url = receiver.url + "/hook"
    receiver.close()
    with stack.client() as client:
        assert client.get(KEY_PATH, params={"callback_url": closed_url}).status_code == 200
    database = Database(stack.db_url)

    def failed_attempt() -> str | None:
        with database.read() as session:
            row = session.scalars(select(WebhookDelivery)).first()
            if row is None or row.state != "failed":
                return None
            return deliveries.attempts_of(session, row.id)[0].error

    error = wait_until(failed_attempt, 60, what="a failed delivery")
    database.dispose()
    assert error
    assert "ConnectError" in error


def test_callback_url_is_refused_without_a_webhook_secret(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        response = client.get(KEY_PATH, params={"callback_url": "http://127.0.0.1:9/hook"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "WEBHOOKS_DISABLED"


def test_callback_url_must_be_http(stack: NotaryStack) -> None:
    configure(stack, max_attempts=1)
    with stack.client() as client:
        response = client.get(KEY_PATH, params={"callback_url": "file:///etc/passwd"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_REQUEST"


def test_callbacks_to_internal_addresses_are_refused_by_default(
    stack: NotaryStack, receiver: Receiver
) -> None:
    stack.write_config(webhooks={"secret": SECRET, "max_attempts": 3})
    stack.start_all()
    with stack.client() as client:
        assert (
            client.get(KEY_PATH, params={"callback_url": receiver.url + "/hook?token=abc"}).status_code == 200
        )
    rows = wait_until(lambda: (r := delivery_rows(stack)) and r[0][0].state == "failed" and r, 60)
    ((delivery, statuses),) = rows
    assert delivery.attempts == 1, "a refused target is not retried"
    assert statuses == [None]
    assert receiver.received() == []
    worker_log = stack.processes["worker"].log_path.read_text()
    assert "token=abc" not in worker_log
