"""From a job document to an exit code, a summary and a failures table (rendered by rich's recording
console), and the plain progress lines written when stderr is no terminal."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from notary.client.publish.display import PlainDisplay, display_for
from notary.client.publish.errors import ExitCode, LayoutError, ServerError
from notary.client.publish.outcome import JobReport, Progress
from notary.client.publish.summary import json_error, render_error, render_report
from tests.unit.client.publish.scripted import failed, job, published

MIXED = job(
    "j1",
    "succeeded",
    (3, 3, 2),
    result={
        "repositories": [
            published("example.com/good", 2),
            failed("example.com/bad", "INVALID_UPDATE", "Update sent by the client is invalid."),
            failed("[red]markup[/red]", "VERSION", "A newer version of metadata is already available."),
        ]
    },
)


def recording() -> Console:
    return Console(record=True, width=120, file=io.StringIO(), force_terminal=False)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        (job("j", "succeeded", (2, 2, 0), result={"repositories": [published("a"), published("b")]}), 0),
        (MIXED, 1),
        (job("j", "failed", error={"code": "UNKNOWN", "message": "unknown error"}), 4),
        (job("j", "running", (1, 2, 0)), 5),
        (job("j", "queued"), 5),
        (job("j", "succeeded", result={"ttl": 3600}), 0),  # any other kind of job
    ],
)
def test_exit_codes(document: dict[str, object], code: int) -> None:
    assert JobReport.parse(document).exit_code == code


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"id": "j"},
        {"id": "j", "state": "paused"},
        job("j", "running", (-1, 2, 0)),
        job("j", "succeeded", result={"repositories": [{"state": "published"}]}),
        job("j", "failed", error="boom"),
    ],
)
def test_what_is_not_a_job_document(document: object) -> None:
    with pytest.raises(ServerError) as caught:
        JobReport.parse(document)
    assert caught.value.code == "BAD_ANSWER"
    assert caught.value.exit_code is ExitCode.SERVER


def test_the_summary_names_each_failed_gun_with_its_code() -> None:
    console = recording()
    render_report(JobReport.parse(MIXED), console)
    text = console.export_text()
    assert "Job j1: 1 of 3 repositories published, 2 failed." in text
    assert "Failed repositories" in text
    rows = [line for line in text.splitlines() if "example.com/bad" in line or "markup" in line]
    assert "INVALID_UPDATE" in rows[0]
    assert "Update sent by the client is invalid." in rows[0]
    assert "[red]markup[/red]" in rows[1]
    assert "VERSION" in rows[1]
    assert "example.com/good" not in text


def test_no_table_when_everything_was_published() -> None:
    console = recording()
    document = job("j2", "succeeded", (1, 1, 0), result={"repositories": [published("a")]})
    render_report(JobReport.parse(document), console)
    assert console.export_text() == "Job j2: 1 of 1 repositories published, 0 failed.\n"


def test_a_failed_job_and_an_unfinished_one() -> None:
    console = recording()
    render_report(
        JobReport.parse(job("j3", "failed", error={"code": "UNKNOWN", "message": "unknown error"})), console
    )
    render_report(JobReport.parse(job("j4", "running", (5, 9, 1))), console)
    assert console.export_text() == (
        "Job j3 failed: UNKNOWN: unknown error\njob j4: running, 5/9 done, 1 failed\n"
    )


def test_errors_for_people_and_for_scripts() -> None:
    error = ServerError("cannot reach http://127.0.0.1:9: ConnectionError", job_id="j5")
    console = recording()
    render_error(error, console)
    render_error(LayoutError(["a: one", "b: two"]), console)
    assert console.export_text().splitlines() == [
        "notary-publish: cannot reach http://127.0.0.1:9: ConnectionError",
        "The job goes on on the server; follow it with: notary-publish wait j5",
        "notary-publish: a: one",
        "notary-publish: b: two",
    ]
    assert json.loads(json_error(error)) == {
        "errors": [
            {
                "code": "UNREACHABLE",
                "message": "cannot reach http://127.0.0.1:9: ConnectionError",
                "detail": {"job_id": "j5"},
            }
        ]
    }


def test_plain_progress_lines_on_state_changes_and_at_most_every_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    display = PlainDisplay(out, every=5.0, clock=lambda: now[0])
    for moment, state, progress in [
        (0.0, "queued", None),
        (0.5, "queued", None),  # nothing new
        (1.0, "running", (0, 4, 0)),  # new state: shown at once
        (2.0, "running", (1, 4, 0)),  # moved, but too soon
        (6.5, "running", (2, 4, 1)),  # moved, interval passed
        (7.0, "succeeded", (4, 4, 1)),
    ]:
        now[0] = moment
        display.update(JobReport.parse(job("j6", state, progress)))
    assert out.getvalue().splitlines() == [
        "job j6: queued",
        "job j6: running, 0/4 done, 0 failed",
        "job j6: running, 2/4 done, 1 failed",
        "job j6: succeeded, 4/4 done, 1 failed",
    ]


def test_which_display() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    assert type(display_for(terminal, json_output=False)).__name__ == "RichDisplay"
    assert type(display_for(pipe, json_output=False)).__name__ == "PlainDisplay"
    assert type(display_for(terminal, json_output=True)).__name__ == "SilentDisplay"


def test_the_progress_bar_shows_done_total_and_failures() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, record=True)
    display = display_for(console, json_output=False)
    display.update(JobReport.parse(job("j7", "running", (3, 10, 2))))
    display.close()
    text = console.export_text()
    assert "job j7 running" in text
    assert "3/10" in text
    assert "2 failed" in text
    assert JobReport.parse(job("j7", "running", (3, 10, 2))).progress == Progress(3, 10, 2)
