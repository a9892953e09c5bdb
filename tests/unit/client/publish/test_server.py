"""The HTTP side against a real (scripted) server: retries with backoff and Retry-After, the errors each
answer becomes, and polling until a job finishes. Sleeps are recorded instead of slept."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from notary.client.auth import BearerTokenAuth
from notary.client.publish.errors import (
    ExitCode,
    JobNotFoundError,
    RequestRefusedError,
    ServerError,
    UnauthorizedError,
    UnsupportedError,
)
from notary.client.publish.follow import POLLING, follow
from notary.client.publish.outcome import JobReport
from notary.client.publish.server import MAX_RETRY_AFTER, Backoff, Server, retry_after
from tests.unit.client.publish.scripted import Reply, ScriptedServer, job
from tests.unit.client.servers import closed_port_url

BULK = "/v1/bulk/publish"
ACCEPTED = Reply(202, job("j1", "queued"), {"Location": "/v1/jobs/j1"})
UNAVAILABLE = Reply(503, {"errors": [{"code": "SIGNER_UNAVAILABLE", "message": "no signer"}]})


def server_for(url: str, slept: list[float], **options: object) -> Server:
    return Server(url, sleep=slept.append, **options)  # type: ignore[arg-type]


def test_submit_sends_the_key_and_retries_5xx_with_the_same_body(scripted: ScriptedServer) -> None:
    scripted.on("POST", BULK, UNAVAILABLE, Reply(502), ACCEPTED)
    slept: list[float] = []
    body = io.BytesIO(b"tar bytes")
    submitted = server_for(scripted.url, slept).submit(
        body, "application/x-tar", "k" * 64, {"callback_url": "x"}
    )
    assert submitted.document["id"] == "j1"
    assert submitted.location == "/v1/jobs/j1"
    posts = scripted.requests_to("POST", BULK)
    assert len(posts) == 3
    assert {post.body for post in posts} == {b"tar bytes"}  # the file is rewound for each attempt
    assert {post.headers["Idempotency-Key"] for post in posts} == {"k" * 64}
    assert posts[0].headers["Content-Type"] == "application/x-tar"
    assert posts[0].target == f"{BULK}?callback_url=x"
    assert slept == [0.5, 1.0]  # exponential


def test_retry_after_is_honoured_and_capped(scripted: ScriptedServer) -> None:
    scripted.on(
        "GET",
        "/v1/jobs/j1",
        Reply(429, headers={"Retry-After": "7"}),
        Reply(503, headers={"Retry-After": "100000"}),
        Reply(200, job("j1", "running")),
    )
    slept: list[float] = []
    answer = server_for(scripted.url, slept).job("j1")
    assert answer.document["state"] == "running"
    assert slept == [7.0, MAX_RETRY_AFTER]


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after("Tue, 01 Jan 2030 12:00:30 GMT", lambda: now) == 30.0
    assert retry_after("Tue, 01 Jan 2030 11:00:00 GMT", lambda: now) == 0.0
    assert retry_after("soon", lambda: now) is None
    assert retry_after(None) is None


def test_the_backoff_is_capped() -> None:
    backoff = Backoff(first=1.0, factor=2.0, cap=5.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_persistent_5xx_gives_up_with_the_servers_code(scripted: ScriptedServer) -> None:
    scripted.on("GET", "/v1/jobs/j1", UNAVAILABLE)
    slept: list[float] = []
    with pytest.raises(ServerError) as caught:
        server_for(scripted.url, slept, backoff=Backoff(attempts=3)).job("j1")
    assert caught.value.code == "SIGNER_UNAVAILABLE"
    assert caught.value.exit_code is ExitCode.SERVER
    assert len(scripted.seen) == 3
    assert len(slept) == 2


def test_an_unreachable_server() -> None:
    slept: list[float] = []
    with pytest.raises(ServerError) as caught:
        server_for(closed_port_url(), slept, backoff=Backoff(attempts=3)).job("j1")
    assert caught.value.code == "UNREACHABLE"
    assert "cannot reach" in caught.value.message
    assert len(slept) == 2


@pytest.mark.parametrize(
    ("reply", "error", "code", "exit_code"),
    [
        (
            Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}),
            UnauthorizedError,
            "UNAUTHORIZED",
            3,
        ),
        (Reply(403, {"errors": [{"code": "FORBIDDEN", "message": "no"}]}), UnauthorizedError, "FORBIDDEN", 3),
        (
            Reply(413, {"errors": [{"code": "TOO_MANY_REPOSITORIES", "message": "too many"}]}),
            RequestRefusedError,
            "TOO_MANY_REPOSITORIES",
            2,
        ),
        (
            Reply(422, {"errors": [{"code": "IDEMPOTENCY_KEY_REUSED", "message": "reused"}]}),
            RequestRefusedError,
            "IDEMPOTENCY_KEY_REUSED",
            2,
        ),
        (Reply(400), RequestRefusedError, "HTTP_400", 2),
        (Reply(404), UnsupportedError, "BULK_UNSUPPORTED", 3),
        (Reply(202, ["not", "an", "object"]), ServerError, "BAD_ANSWER", 3),
    ],
)
def test_what_each_refusal_of_a_submission_becomes(
    scripted: ScriptedServer, reply: Reply, error: type[Exception], code: str, exit_code: int
) -> None:
    scripted.on("POST", BULK, reply)
    with pytest.raises(error) as caught:
        server_for(scripted.url, []).submit(b"{}", "application/json", "k")
    assert caught.value.code == code  # type: ignore[attr-defined]
    assert caught.value.exit_code == exit_code  # type: ignore[attr-defined]
    assert len(scripted.seen) == 1  # refusals are not retried


def test_an_unknown_job(scripted: ScriptedServer) -> None:
    scripted.on(
        "GET", "/v1/jobs/nope", Reply(404, {"errors": [{"code": "JOB_NOT_FOUND", "message": "no job"}]})
    )
    with pytest.raises(JobNotFoundError) as caught:
        server_for(scripted.url, []).job("nope")
    assert caught.value.exit_code is ExitCode.USAGE
    assert caught.value.job_id is None  # nothing to resume


def test_the_token_goes_as_a_bearer(scripted: ScriptedServer) -> None:
    scripted.on("GET", "/v1/jobs/j1", Reply(200, job("j1", "queued")))
    server_for(scripted.url, [], auth=BearerTokenAuth("t0ken")).job("j1")
    assert scripted.seen[0].headers["Authorization"] == "Bearer t0ken"


def test_follow_polls_until_the_end_resetting_the_backoff_on_progress(scripted: ScriptedServer) -> None:
    scripted.on(
        "GET",
        "/v1/jobs/j1",
        Reply(200, job("j1", "queued")),
        Reply(200, job("j1", "queued")),
        Reply(200, job("j1", "running", (1, 2, 0))),
        Reply(200, job("j1", "running", (1, 2, 0)), {"Retry-After": "2"}),
        Reply(200, job("j1", "succeeded", (2, 2, 0), result={"repositories": []})),
    )
    slept: list[float] = []
    seen: list[JobReport] = []
    report = follow(server_for(scripted.url, []), "j1", seen.append, sleep=slept.append)
    assert report.exit_code is ExitCode.OK
    assert [r.state.value for r in seen] == ["queued", "queued", "running", "running", "succeeded"]
    assert slept == [POLLING.delay(1), POLLING.delay(2), POLLING.delay(1), 2.0]


def test_follow_stops_at_the_timeout_with_the_last_state(scripted: ScriptedServer) -> None:
    scripted.on("GET", "/v1/jobs/j1", Reply(200, job("j1", "running", (1, 5, 0))))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    report = follow(
        server_for(scripted.url, []), "j1", lambda _: None, timeout=1.0, clock=lambda: now[0], sleep=sleep
    )
    assert report.exit_code is ExitCode.NOT_FINISHED
    assert now[0] == pytest.approx(1.0)  # the last pause is cut to the deadline
