"""Change notifications through the real processes: subscriptions receive Standard Webhooks signed with their
own secret (checked here without our code), for the events and GUNs they asked for, one GUN in changefeed
order even while the receiver fails, with failed deliveries replayable, and never a secret in a payload."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from models import outbox
from models.db import Database
from models.tables import SharedKey, WebhookAttempt
from notary import webhooks
from tests.api.bulk_helpers import finished_job, initial_repositories, json_body, submit
from tests.api.test_shared_keys import issue, signed, start_key_service
from tests.api.tuf_helpers import changefeed_path, new_repo, published, tuf
from tests.support.instance_identity import InstanceIdentityAuthority
from tests.support.processes import NotaryStack, wait_until
from tests.support.receiver import Received, Receiver
from tests.support.tuf_builder import Key
from workers.app import trigger_dispatch_after_commits

SERVER_SECRET = webhooks.new_secret()
ACME = "example.com/acme/"
STREAM_LENGTH = 5


def webhook_config(max_attempts: int = 8) -> dict[str, Any]:
    return {
        "secret": SERVER_SECRET,
        "max_attempts": max_attempts,
        "backoff_base": 0.2,
        "allow_private_targets": True,
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def start(stack: NotaryStack, max_attempts: int = 8) -> NotaryStack:
    stack.write_config(webhooks=webhook_config(max_attempts))
    stack.start_all()
    return stack


def subscribe(
    stack: NotaryStack, url: str, events: list[str], gun_prefix: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"url": url, "events": events}
    if gun_prefix is not None:
        body["gun_prefix"] = gun_prefix
    with stack.client() as client:
        response = client.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verified_events(received: list[Received], secret: str) -> list[dict[str, Any]]:
    """Each request's event, once its signature checks out as a standardwebhooks.com receiver computes it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    events = []
    for request in received:
        headers = {name.lower(): value for name, value in request.headers.items()}
        signed_content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
        expected = "v1," + base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
        assert any(hmac.compare_digest(expected, sig) for sig in headers["webhook-signature"].split())
        assert abs(time.time() - int(headers["webhook-timestamp"])) < 300
        events.append(json.loads(request.body))
    return events


def deliveries(stack: NotaryStack, subscription_id: str, **params: str) -> list[dict[str, Any]]:
    with stack.client() as client:
        response = client.get(f"/v1/subscriptions/{subscription_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def settled(stack: NotaryStack, subscription_id: str, count: int) -> list[dict[str, Any]]:
    """The subscription's deliveries once ``count`` of them are delivered or have given up."""

    def done() -> list[dict[str, Any]] | None:
        found = deliveries(stack, subscription_id)
        finished = [d for d in found if d["state"] != "pending"]
        return found if len(finished) >= count else None

    result: list[dict[str, Any]] = wait_until(done, 60, 0.2, what=f"{count} settled deliveries")
    return result


def assert_no_secret(received: list[Received], *secrets: str) -> None:
    for request in received:
        for secret in secrets:
            assert secret.encode() not in request.body


def test_subscribers_get_their_repositorys_events_signed_and_in_changefeed_order(
    stack: NotaryStack, receiver: Receiver
) -> None:
    start(stack)
    gun = ACME + "app"
    events = ["repository.updated", "repository.deleted"]
    acme = subscribe(stack, receiver.url + "/acme", events, gun_prefix=ACME)
    other = subscribe(stack, receiver.url + "/other", events, gun_prefix="example.com/other/")
    assert acme["secret"].startswith("whsec_")
    assert {k: acme[k] for k in ("url", "events", "gun_prefix")} == {
        "url": receiver.url + "/acme",
        "events": events,
        "gun_prefix": ACME,
    }

    with stack.client() as client:
        listed = client.get("/v1/subscriptions").json()["subscriptions"]
        one = client.get(f"/v1/subscriptions/{acme['id']}").json()
        repo = new_repo(client, gun)
        published(client, gun, repo.add_target("a", b"one"))
        published(client, gun, repo.add_target("b", b"two"))
        assert client.delete(tuf(gun)).status_code == 200
        feed = client.get(changefeed_path(gun), params={"records": "10"}).json()["records"]
    assert [s["id"] for s in listed] == [acme["id"], other["id"]]
    assert all("secret" not in s for s in [*listed, one])
    assert one == {k: v for k, v in acme.items() if k != "secret"}

    received = wait_until(lambda: len(r := receiver.received()) >= 4 and r, 60, what="four events")
    sent = verified_events(received, acme["secret"])
    assert all(request.path == "/acme" for request in received)
    assert [event["type"] for event in sent] == ["repository.updated"] * 3 + ["repository.deleted"]
    assert [event["data"]["changefeed_id"] for event in sent] == [int(entry["ID"]) for entry in feed]
    assert [event["data"]["sequence"] for event in sent] == [1, 2, 3, 4]
    assert [event["data"]["timestamp"]["version"] for event in sent[:3]] == [1, 2, 3]
    assert [event["data"]["root_version"] for event in sent[:3]] == [1, 1, 1]
    assert sent[0]["data"]["published"] == {"root": 1, "snapshot": 1, "targets": 1, "timestamp": 1}
    assert all(event["data"]["gun"] == gun for event in sent)
    assert_no_secret(received, acme["secret"], other["secret"], SERVER_SECRET, stack.kek.split(":")[1])

    assert [d["state"] for d in settled(stack, acme["id"], 4)] == ["delivered"] * 4
    assert deliveries(stack, other["id"]) == [], "the other prefix filters this GUN out"

    with stack.client() as client:
        assert client.delete(f"/v1/subscriptions/{acme['id']}").status_code == 204
        assert client.get(f"/v1/subscriptions/{acme['id']}").status_code == 404
        assert client.delete(f"/v1/subscriptions/{acme['id']}").status_code == 404


def test_a_failing_receiver_still_gets_one_gun_in_order(stack: NotaryStack, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 500, 200]  # the first three attempts fail, whichever event they carry
    start(stack)
    gun = ACME + "ordered"
    subscription = subscribe(stack, receiver.url + "/hook", ["repository.updated", "job.finished"])
    with stack.client() as client:
        repo = new_repo(client, gun)  # a key job, then a publish: its update and its job in one transaction
        for number in range(3):
            published(client, gun, repo.add_target(f"t{number}", b"x"))

    found = settled(stack, subscription["id"], 9)  # 1 key job + 4 publishes x (update, job)
    received = receiver.received()
    sent = verified_events(received, subscription["secret"])
    arrival = [event["data"]["sequence"] for event in sent]
    assert arrival == sorted(arrival), "a later event of the GUN went out before an earlier one was delivered"
    assert arrival[:4] == [1, 1, 1, 1], "the first event is retried until delivered, the rest wait"
    assert sorted(set(arrival)) == list(range(1, 10))
    types = [event["type"] for event in sent[3:]]
    assert types == ["job.finished"] + ["repository.updated", "job.finished"] * 4
    first = found[0]
    assert first["state"] == "delivered"
    assert [a["status_code"] for a in first["attempt_log"]] == [500, 503, 500, 200]
    assert {event["data"]["kind"] for event in sent if event["type"] == "job.finished"} == {
        "signer.get_key",
        "tuf.verify_upload",
    }


def test_a_stream_is_delivered_without_beat(sql_stack: NotaryStack, receiver: Receiver) -> None:
    """Settling a delivery sends the next one of its stream, so with only web and worker running (no beat to
    pick up a delivery that had to wait) every event arrives, in order, on every backend."""
    receiver.statuses = [500, 200]  # the first delivery is retried once while the others wait behind it
    sql_stack.write_config(webhooks=webhook_config())
    sql_stack.start("web")
    sql_stack.start("worker")
    subscription = subscribe(sql_stack, receiver.url + "/hook", ["repository.updated"])
    gun = ACME + "busy"
    database = Database(sql_stack.db_url)
    trigger_dispatch_after_commits(sql_stack.celery())  # commits here send the dispatcher, as a worker's do
    try:
        with database.transaction() as session:  # one change with several events: all queue at once
            for number in range(STREAM_LENGTH):
                outbox.record(session, "repository.updated", {"gun": gun, "n": number}, gun=gun)
        for number in range(STREAM_LENGTH, 2 * STREAM_LENGTH):  # then changes while those are delivered
            with database.transaction() as session:
                outbox.record(session, "repository.updated", {"gun": gun, "n": number}, gun=gun)
    finally:
        outbox.set_dispatch_trigger(None)
        database.dispose()

    found = settled(sql_stack, subscription["id"], 2 * STREAM_LENGTH)
    assert [d["state"] for d in found] == ["delivered"] * 2 * STREAM_LENGTH
    sent = verified_events(receiver.received(), subscription["secret"])
    assert [event["data"]["sequence"] for event in sent] == [1, *range(1, 2 * STREAM_LENGTH + 1)]
    assert [event["data"]["n"] for event in sent[1:]] == list(range(2 * STREAM_LENGTH))
    assert "beat" not in sql_stack.processes


def test_a_failed_delivery_can_be_replayed(stack: NotaryStack, receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 200]
    start(stack, max_attempts=2)
    gun = ACME + "replayed"
    subscription = subscribe(stack, receiver.url + "/hook", ["repository.updated"])
    base = f"/v1/subscriptions/{subscription['id']}/deliveries"
    with stack.client() as client:
        new_repo(client, gun)
        (failed,) = settled(stack, subscription["id"], 1)
        assert failed["state"] == "failed"
        assert [a["status_code"] for a in failed["attempt_log"]] == [500, 500]
        assert deliveries(stack, subscription["id"], state="failed") == [failed]

        replay = client.post(f"{base}/{failed['id']}/replay")
        assert replay.status_code == 202, replay.text
        assert replay.json() == {"replayed": [failed["id"]]}

        def delivered() -> dict[str, Any] | None:
            (row,) = deliveries(stack, subscription["id"])
            return row if row["state"] == "delivered" else None

        row = wait_until(delivered, 60, 0.2, what="the replayed delivery")
        assert [a["status_code"] for a in row["attempt_log"]] == [500, 500, 200]
        again = client.post(f"{base}/{failed['id']}/replay")
        assert again.status_code == 409
        assert again.json()["errors"][0]["code"] == "DELIVERY_NOT_FAILED"
        assert client.post(f"{base}/replay").json() == {"replayed": []}
        missing = client.post(f"{base}/999999/replay")
        assert missing.json()["errors"][0]["code"] == "DELIVERY_NOT_FOUND"
        unknown = client.post("/v1/subscriptions/sub_nope/deliveries/replay")
        assert unknown.status_code == 404
        assert unknown.json()["errors"][0]["code"] == "SUBSCRIPTION_NOT_FOUND"
    messages = {r.headers["webhook-id"] for r in receiver.received()}
    assert len(messages) == 1, "a replay resends the same message"


def test_server_key_rotation_is_announced(stack: NotaryStack, receiver: Receiver) -> None:
    start(stack)
    gun = ACME + "rotated"
    subscription = subscribe(stack, receiver.url + "/hook", ["key.rotated"], gun_prefix=ACME)
    with stack.client() as client:
        assert client.get(tuf(gun, "timestamp.key")).status_code == 200  # a first key is no rotation
        rotated = client.post(tuf(gun, "snapshot.key"))
    assert rotated.status_code == 200
    (request,) = wait_until(lambda: receiver.received(), 60, what="the key.rotated event")
    (event,) = verified_events([request], subscription["secret"])
    assert event["type"] == "key.rotated"
    assert event["data"] == {
        "gun": gun,
        "role": "snapshot",
        "key_id": Key.from_public(rotated.json()).key_id,
        "status": "pending",
        "event_id": event["data"]["event_id"],
        "sequence": 1,
    }


def test_beat_purges_settled_deliveries_after_retention(stack: NotaryStack, receiver: Receiver) -> None:
    start(stack)
    subscription = subscribe(stack, receiver.url + "/hook", ["key.rotated"])
    with stack.client() as client:
        assert client.post(tuf(ACME + "purged", "timestamp.key")).status_code == 200
    (delivery,) = settled(stack, subscription["id"], 1)
    database = Database(stack.db_url)
    with database.transaction() as session:  # its last attempt eight days ago, past the default week
        session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery["id"])
            .values(attempted_at=datetime.now(UTC) - timedelta(days=8))
        )
    database.dispose()
    stack.celery().send_task("webhooks.purge_settled")
    wait_until(lambda: deliveries(stack, subscription["id"]) == [], 60, what="the purge of the delivery")


def test_shared_key_events_carry_no_secret(stack: NotaryStack, receiver: Receiver) -> None:
    authority = InstanceIdentityAuthority()
    start_key_service(stack, authority, webhooks=webhook_config())
    events = ["key.issued", "key.revoked", "key.expired"]
    subscription = subscribe(stack, receiver.url + "/hook", events)
    with stack.client() as client:
        prefixed = client.post(
            "/v1/subscriptions", json={"url": receiver.url, "events": events, "gun_prefix": ACME}
        )
    assert prefixed.status_code == 400, "shared-key events have no GUN for a prefix to match"

    revoked = issue(stack, authority, "i-0000000000000000b").json()
    expiring = issue(stack, authority, "i-0000000000000000c").json()
    url = f"{stack.base_url}/v1/keys/{revoked['identity']}"
    assert httpx.delete(url, headers=signed(revoked, "DELETE", url)).status_code == 204
    database = Database(stack.db_url)
    with database.transaction() as session:
        row = session.get(SharedKey, expiring["identity"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(hours=1)
    database.dispose()
    stack.celery().send_task("keys.sweep")

    received = wait_until(lambda: len(r := receiver.received()) >= 4 and r, 60, what="four key events")
    sent = verified_events(received, subscription["secret"])
    by_key = {
        identity: [e["type"] for e in sent if e["data"]["identity"] == identity]
        for identity in (revoked["identity"], expiring["identity"])
    }
    assert by_key == {
        revoked["identity"]: ["key.issued", "key.revoked"],
        expiring["identity"]: ["key.issued", "key.expired"],
    }
    for event in sent:
        assert set(event["data"]) == {"identity", "dc", "roles", "expires_at", "event_id", "sequence"}
        assert event["data"]["dc"] == "test-dc"
    assert_no_secret(
        received, revoked["secret"], expiring["secret"], revoked["nonce"], subscription["secret"]
    )


def test_subscriptions_are_validated(stack: NotaryStack) -> None:
    stack.write_config(webhooks={"secret": SERVER_SECRET, "max_attempts": 1}, subscriptions={"max_count": 1})
    stack.start_all()
    cases = [
        ({"url": "http://example.com/h", "events": ["repository.exploded"]}, "UNKNOWN_EVENT"),
        ({"url": "http://example.com/h", "events": []}, "INVALID_REQUEST"),
        ({"url": "file:///etc/passwd", "events": ["job.finished"]}, "INVALID_REQUEST"),
        (
            {"url": "http://example.com/h", "events": ["job.finished"], "gun_prefix": "x" * 256},
            "INVALID_REQUEST",
        ),
        ({"url": "http://example.com/h", "events": ["job.finished"], "secret": "mine"}, "INVALID_REQUEST"),
        ({"url": "http://127.0.0.1:9/h", "events": ["job.finished"]}, "WEBHOOK_TARGET_REFUSED"),
        ({"url": "http://169.254.169.254/latest", "events": ["job.finished"]}, "WEBHOOK_TARGET_REFUSED"),
    ]
    with stack.client() as client:
        for body, code in cases:
            response = client.post("/v1/subscriptions", json=body)
            assert response.status_code == 400, body
            assert response.json()["errors"][0]["code"] == code, body
        big = client.post(
            "/v1/subscriptions", content=b"[" * 20000, headers={"Content-Type": "application/json"}
        )
        assert big.status_code == 413
        assert client.get("/v1/subscriptions").json() == {"subscriptions": []}
        first = client.post("/v1/subscriptions", json={"url": "http://1.1.1.1/h", "events": ["job.finished"]})
        assert first.status_code == 201
        second = client.post(
            "/v1/subscriptions", json={"url": "http://1.1.1.1/h", "events": ["job.finished"]}
        )
        assert second.status_code == 409
        assert second.json()["errors"][0]["code"] == "TOO_MANY_SUBSCRIPTIONS"


def test_subscriptions_need_the_webhook_secret(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        response = client.post(
            "/v1/subscriptions", json={"url": "http://1.1.1.1/h", "events": ["job.finished"]}
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "WEBHOOKS_DISABLED"


def test_a_bulk_publish_announces_each_repository(stack: NotaryStack, receiver: Receiver) -> None:
    start(stack)
    subscription = subscribe(stack, receiver.url, ["repository.updated"], gun_prefix=ACME)
    guns = [ACME + f"bulk-{n}" for n in range(3)]
    with stack.client() as client:
        repositories = initial_repositories(client, guns)
        document = submit(client, json_body(repositories)).json()
        outcomes = finished_job(client, document["id"])["result"]["repositories"]
    assert [outcome["state"] for outcome in outcomes] == ["published"] * 3

    received = wait_until(lambda: len(r := receiver.received()) >= 3 and r, 60, what="three events")
    sent = verified_events(received, subscription["secret"])
    assert sorted(event["data"]["gun"] for event in sent) == guns
    for event in sent:
        assert event["type"] == "repository.updated"
        assert event["data"]["timestamp"]["version"] == 1
        assert event["data"]["root_version"] == 1
        assert event["data"]["published"] == {"root": 1, "snapshot": 1, "targets": 1, "timestamp": 1}
        assert event["data"]["sequence"] == 1
