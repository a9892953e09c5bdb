"""Health, metrics, request ids, the error envelope, and error reporting, against the real server."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import NotaryStack, wait_until
from tests.support.receiver import Receiver
from tests.support.servers import RedisServer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def sqlite_path(stack: NotaryStack) -> str:
    return stack.db_url.removeprefix("sqlite:///")


def test_health_is_200_empty_object_when_db_and_broker_answer(running_stack: NotaryStack) -> None:
    response = httpx.get(running_stack.base_url + "/_notary_server/health")
    assert response.status_code == 200
    assert response.json() == {}


def test_health_is_503_naming_the_database_when_it_fails(running_stack: NotaryStack) -> None:
    with sqlite3.connect(sqlite_path(running_stack)) as connection:
        connection.execute("DROP TABLE jobs")
    response = httpx.get(running_stack.base_url + "/_notary_server/health")
    assert response.status_code == 503
    assert response.json() == {"DB operational": "unavailable"}


def test_health_is_503_naming_the_broker_when_redis_is_gone(stack: NotaryStack, tmp_path: Path) -> None:
    own_redis = RedisServer.start(tmp_path / "redis")
    stack.redis_url = own_redis.url
    stack.write_config()
    stack.start("web")
    try:
        assert httpx.get(stack.base_url + "/_notary_server/health").status_code == 200
        own_redis.stop()
        response = httpx.get(stack.base_url + "/_notary_server/health", timeout=30)
    finally:
        own_redis.stop()
    assert response.status_code == 503
    assert response.json() == {"Broker operational": "unavailable"}


def test_a_missing_signer_is_logged_but_stays_healthy(stack: NotaryStack) -> None:
    stack.start("web")
    response = httpx.get(stack.base_url + "/_notary_server/health")
    assert response.status_code == 200
    metrics = httpx.get(stack.base_url + "/metrics").text
    assert re.search(r"^notary_signer_up(\{[^}]*\})? 0\.0$", metrics, re.M)
    wait_until(lambda: "no signer heartbeat" in stack.processes["web"].log_path.read_text(), 10)


def ping_count(stack: NotaryStack, path: str = "/metrics") -> float:
    text = httpx.get(stack.base_url + path).text
    line = re.search(
        r'^notary_http_requests_total\{code="200",method="GET",route="/v2/"\} (\S+)$', text, re.M
    )
    assert line is not None, text[:2000]
    assert "notary_http_request_duration_seconds_bucket{" in text
    return float(line.group(1))


def test_metrics_count_every_request_across_gunicorn_workers(running_stack: NotaryStack) -> None:
    before = ping_count(running_stack)
    requests = 40
    for _ in range(requests):  # a fresh connection each time, so both workers take requests
        assert httpx.get(running_stack.base_url + "/v2/", headers={"Connection": "close"}).status_code == 200
    assert ping_count(running_stack) == before + requests
    assert ping_count(running_stack, "/_notary_server/metrics") == before + requests
    pids = {p.name.split("_")[-1] for p in (running_stack.root / "metrics").glob("counter_*.db")}
    assert len(pids) >= 2, "several processes wrote metrics; the exposition summed them"


def test_task_metrics_are_exported(running_stack: NotaryStack) -> None:
    with running_stack.client() as client:
        assert client.get("/v2/m/_trust/tuf/timestamp.key").status_code == 200
        text = client.get("/metrics").text
    assert re.search(r'^notary_tasks_total\{outcome="succeeded",task="signer.get_key"\} 1\.0$', text, re.M)
    assert 'notary_task_duration_seconds_count{task="signer.get_key"} 1.0' in text
    assert 'route="/v2/{gun}/_trust/tuf/{role}.key"' in text, "labelled by route template, not by GUN"
    assert "/v2/m/_trust" not in text


def test_request_id_is_echoed_or_made(running_stack: NotaryStack) -> None:
    given = httpx.get(running_stack.base_url + "/v2/", headers={"X-Request-ID": "trace-123"})
    assert given.headers["x-request-id"] == "trace-123"
    made = httpx.get(running_stack.base_url + "/v2/")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    hostile = httpx.get(running_stack.base_url + "/v2/", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"
    log = running_stack.processes["web"].log_path.read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(e.get("request_id") == "trace-123" and e.get("msg") == "response completed" for e in entries)


def test_unknown_routes_get_notarys_404_envelope(running_stack: NotaryStack) -> None:
    for method, path in (("GET", "/v2/x/_trust/nothing"), ("PUT", "/v2/a/_trust/tuf/"), ("GET", "/nowhere")):
        response = httpx.request(method, running_stack.base_url + path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert response.content == (
            b'{"errors":[{"code":"METADATA_NOT_FOUND","message":"You have requested metadata that does not'
            b' exist."}]}\n'
        )


def test_unclean_paths_redirect_like_gorilla_mux(running_stack: NotaryStack) -> None:
    response = httpx.get(running_stack.base_url + "/v2//a/../b/_trust/tuf/root.json")
    assert response.status_code == 301
    assert response.headers["location"] == "/v2/b/_trust/tuf/root.json"


def test_a_500_leaks_nothing_and_reaches_bugsnag(stack: NotaryStack, receiver: Receiver) -> None:
    stack.write_config(
        reporting={
            "bugsnag": {"api_key": "feedfacefeedfacefeedfacefeedface", "endpoint": receiver.url + "/notify"}
        }
    )
    stack.start("web")
    with sqlite3.connect(sqlite_path(stack)) as connection:
        connection.execute("DROP TABLE jobs")
    response = httpx.get(
        stack.base_url + "/v1/jobs/0123456789abcdef0123456789abcdef", headers={"X-Request-ID": "boom-1"}
    )
    assert response.status_code == 500
    assert response.json() == {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}
    assert "sqlite" not in response.text.lower()

    reports = wait_until(receiver.received, 30, what="a Bugsnag notification")
    payload = json.loads(reports[0].body)
    event = payload["events"][0]
    assert event["exceptions"][0]["errorClass"].endswith("OperationalError")
    assert event["metaData"]["request"]["request_id"] == "boom-1"
    assert "feedfacefeedfacefeedfacefeedface" not in json.dumps(event), "the API key is a header, not data"
    assert stack.db_url not in reports[0].body.decode()
