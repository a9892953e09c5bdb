"""Progress while a job runs, on stderr: a rich progress bar on a terminal, plain lines otherwise.

Plain lines (stderr is a pipe or a file, as in CI logs) are written when the state changes and, while the job
moves, at most every ``every`` seconds, so a long job leaves a readable trail rather than a flood.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from notary.client.publish.outcome import JobReport


class Display(Protocol):
    def update(self, report: JobReport) -> None: ...

    def close(self) -> None: ...


def progress_line(report: JobReport) -> str:
    line = f"job {report.id}: {report.state.value}"
    if report.progress is not None:
        line += f", {report.progress.done}/{report.progress.total} done, {report.progress.failed} failed"
    return line


class SilentDisplay:
    """For ``--json``: the result is the only output."""

    def update(self, report: JobReport) -> None:
        pass

    def close(self) -> None:
        pass


class PlainDisplay:
    def __init__(
        self, stream: IO[str], every: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._every = every
        self._clock = clock
        self._shown: JobReport | None = None
        self._shown_at = 0.0

    def update(self, report: JobReport) -> None:
        now = self._clock()
        shown = self._shown
        state_changed = shown is None or shown.state is not report.state
        moved = shown is not None and shown.progress != report.progress
        if state_changed or (moved and now - self._shown_at >= self._every):
            print(progress_line(report), file=self._stream, flush=True)
            self._shown, self._shown_at = report, now

    def close(self) -> None:
        pass


class RichDisplay:
    """A live bar: state, done/total, failures so far, elapsed time (an indeterminate bar until the total
    is known)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: TaskID | None = None

    def update(self, report: JobReport) -> None:
        progress = report.progress
        total = progress.total if progress is not None else None
        done = progress.done if progress is not None else 0
        failed = progress.failed if progress is not None else 0
        description = f"job {report.id[:12]} {report.state.value}"
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=total, completed=done, failed=failed)
        else:
            self._progress.update(
                self._task, description=description, total=total, completed=done, failed=failed
            )
        self._progress.refresh()

    def close(self) -> None:
        self._progress.stop()


def display_for(console: Console, json_output: bool) -> Display:
    """Silent for ``--json``, a bar when ``console`` (stderr) is a terminal, plain lines otherwise."""
    if json_output:
        return SilentDisplay()
    if console.is_terminal:
        return RichDisplay(console)
    return PlainDisplay(console.file)
