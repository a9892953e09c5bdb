"""notary.jobs: job states and transitions, the Prefer header, and callback URL validation."""

from __future__ import annotations

import itertools

import pytest

from notary.errors import InvalidRequestError
from notary.jobs import JobState, can_transition, prefers_async, validate_callback_url


@pytest.mark.parametrize(
    "header",
    [
        "respond-async",
        "respond-async, wait=10",
        "wait=5; respond-async",
        "wait=5, respond-async",
        "RESPOND-ASYNC",
        "Respond-Async, Wait=10",
        "handling=lenient,respond-async",
        "  respond-async  ",
        "return=minimal respond-async",
    ],
)
def test_prefers_async(header: str) -> None:
    assert prefers_async(header) is True


@pytest.mark.parametrize(
    "header",
    [
        "respond-asyncx",
        "xrespond-async",
        "no-respond-async",
        "respond_async",
        "respond-sync",
        "wait=10",
        "return=minimal",
        "",
        None,
    ],
)
def test_does_not_prefer_async(header: str | None) -> None:
    assert prefers_async(header) is False


def test_terminal_states() -> None:
    assert {state for state in JobState if state.terminal} == {JobState.SUCCEEDED, JobState.FAILED}


def test_state_values_are_the_stored_strings() -> None:
    assert [state.value for state in JobState] == ["queued", "running", "succeeded", "failed"]
    assert JobState("running") is JobState.RUNNING


ALLOWED = {
    (JobState.QUEUED, JobState.RUNNING),
    (JobState.QUEUED, JobState.FAILED),
    (JobState.RUNNING, JobState.RUNNING),
    (JobState.RUNNING, JobState.SUCCEEDED),
    (JobState.RUNNING, JobState.FAILED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(JobState, JobState)))
def test_can_transition_table(current: JobState, new: JobState) -> None:
    assert can_transition(current, new) is ((current, new) in ALLOWED)


@pytest.mark.parametrize("terminal", [JobState.SUCCEEDED, JobState.FAILED])
def test_terminal_states_are_final(terminal: JobState) -> None:
    assert not any(can_transition(terminal, new) for new in JobState)


def test_queued_cannot_skip_straight_to_success() -> None:
    assert not can_transition(JobState.QUEUED, JobState.SUCCEEDED)
    assert not can_transition(JobState.RUNNING, JobState.QUEUED)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example/notary",
        "https://hooks.example:8443/notary?team=a#frag",
        "HTTPS://Hooks.Example/x",
        "http://127.0.0.1:9000/",
        "http://[::1]:9000/cb",
        "https://h.example/" + "a" * (2048 - len("https://h.example/")),
    ],
)
def test_callback_url_accepted(url: str) -> None:
    assert validate_callback_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example/notary",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "/relative/path",
        "hooks.example/notary",
        "//hooks.example/notary",
        "http://",
        "https:///path-only",
        "",
        "https://user:pass@hooks.example/",
        "https://user@hooks.example/",
        "https://:pass@hooks.example/",
        "https://h.example/" + "a" * (2049 - len("https://h.example/")),
    ],
)
def test_callback_url_rejected(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_callback_url(url)
    assert caught.value.status == 400
    assert "callback_url" in str(caught.value)


def test_callback_url_rejection_does_not_echo_credentials() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_callback_url("https://admin:s3cr3t@hooks.example/")
    assert "s3cr3t" not in str(caught.value)
    assert "s3cr3t" not in repr(caught.value.to_dict())


@pytest.mark.parametrize("value", [None, 42, b"https://hooks.example/", ["https://hooks.example/"], {}])
def test_callback_url_must_be_a_string(value: object) -> None:
    with pytest.raises(InvalidRequestError):
        validate_callback_url(value)
