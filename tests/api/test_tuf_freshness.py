"""An idle repository never serves stale metadata: an expired timestamp is re-signed on read (as notary
does), and beat re-signs timestamps before they expire (notary does not)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from notary.tuf.timefmt import parse_go_time
from tests.api.tuf_helpers import new_repo, plant_timestamp, tuf
from tests.support.processes import NotaryStack, wait_until


def served_timestamp(stack: NotaryStack, gun: str) -> dict[str, object]:
    with stack.client() as client:
        response = client.get(tuf(gun, "timestamp.json"))
    assert response.status_code == 200, response.text
    signed: dict[str, object] = json.loads(response.content)["signed"]
    return signed


def test_an_expired_timestamp_is_re_signed_on_read(running_stack: NotaryStack) -> None:
    gun = "fresh/lazy"
    with running_stack.client() as client:
        new_repo(client, gun)
    expired = plant_timestamp(running_stack, gun, datetime.now(UTC) - timedelta(minutes=1))

    signed = served_timestamp(running_stack, gun)
    assert signed["version"] == expired + 1
    assert parse_go_time(str(signed["expires"])) > datetime.now(UTC) + timedelta(days=13)
    with running_stack.client() as client:
        feed = client.get(f"/v2/{gun}/_trust/changefeed", params={"records": 10}).json()
    assert [record["Version"] for record in feed["records"]][-1] == expired + 1


def test_beat_re_signs_a_timestamp_before_it_expires(running_stack: NotaryStack) -> None:
    gun = "fresh/proactive"
    untouched = "fresh/untouched"
    with running_stack.client() as client:
        new_repo(client, gun)
        new_repo(client, untouched)
    soon = plant_timestamp(running_stack, gun, datetime.now(UTC) + timedelta(hours=1))
    untouched_version = served_timestamp(running_stack, untouched)["version"]

    running_stack.celery().send_task("tuf.refresh_expiring")  # what beat sends every five minutes

    signed = wait_until(lambda: (s := served_timestamp(running_stack, gun))["version"] == soon + 1 and s, 60)
    assert parse_go_time(str(signed["expires"])) > datetime.now(UTC) + timedelta(days=13)
    assert served_timestamp(running_stack, untouched)["version"] == untouched_version, (
        "fresh ones are left alone"
    )


def test_concurrent_reads_of_an_expired_timestamp_all_succeed(running_stack: NotaryStack) -> None:
    """Readers racing on an expired timestamp share one refresh; none of them sees the losers' VERSION."""
    gun = "fresh/crowd"
    with running_stack.client() as client:
        new_repo(client, gun)
    expired = plant_timestamp(running_stack, gun, datetime.now(UTC) - timedelta(minutes=1))

    def read(_: int) -> int:
        with running_stack.client() as client:
            return client.get(tuf(gun, "timestamp.json"), headers={"Connection": "close"}).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(read, range(16)))
    assert statuses == [200] * 16
    assert served_timestamp(running_stack, gun)["version"] > expired
