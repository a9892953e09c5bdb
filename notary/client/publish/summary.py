"""What is printed once a job is over (or once we stop following it): a summary and a table of failures
for people, the server's job document for ``--json``.

Every string that came from the server or from file names is rendered as ``rich.text.Text``, never as
markup, so a GUN or a message cannot restyle the terminal (rich also strips control characters from it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from notary.client.publish.display import progress_line
from notary.client.publish.errors import PublishError
from notary.client.publish.outcome import JobReport, RepositoryOutcome
from notary.jobs import JobState


def failures_table(failures: Iterable[RepositoryOutcome]) -> Table:
    table = Table(title="Failed repositories", title_justify="left")
    table.add_column("GUN", overflow="fold")
    table.add_column("Code", no_wrap=True)
    table.add_column("Message", overflow="fold")
    for outcome in failures:
        table.add_row(Text(outcome.gun), Text(outcome.code), Text(outcome.message))
    return table


def render_report(report: JobReport, console: Console) -> None:
    if report.state is JobState.FAILED:
        console.print(Text(f"Job {report.id} failed: {report.error_code}: {report.error_message}"))
    elif not report.finished:
        console.print(Text(progress_line(report)))
    if report.repositories is not None:
        failed = len(report.failures)
        published = len(report.repositories) - failed
        total = len(report.repositories)
        console.print(
            Text(f"Job {report.id}: {published} of {total} repositories published, {failed} failed.")
        )
        if failed:
            console.print(failures_table(report.failures))
    elif report.state is JobState.SUCCEEDED:
        console.print(Text(f"Job {report.id} ({report.kind}) succeeded."))
        if report.document.get("result") is not None:
            console.print(Text(json.dumps(report.document["result"], indent=2)))


def render_error(error: PublishError, console: Console) -> None:
    """On stderr, one problem a line; with the job id to resume from when a job exists."""
    for line in error.lines:
        console.print(Text(f"notary-publish: {line}"))
    if error.job_id is not None:
        console.print(
            Text(f"The job goes on on the server; follow it with: notary-publish wait {error.job_id}")
        )


def json_document(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2)


def json_error(error: PublishError) -> str:
    """The server's error envelope shape, so a script reads one format for both sides' errors."""
    return json_document({"errors": [error.to_dict()]})
