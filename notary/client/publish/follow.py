"""Follow a job until it finishes: poll ``GET /v1/jobs/{id}`` with a backoff that resets on progress.

While the job moves, it is read every ``first`` seconds so that the progress bar stays live; while it does
not, the pause grows to ``cap``. A ``Retry-After`` from the server is never undercut. Transient read
failures are retried inside ``Server.job``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from notary.client.publish.outcome import JobReport
from notary.client.publish.server import Backoff, Server, Sleep

POLLING = Backoff(first=0.2, factor=1.5, cap=3.0)


def follow(
    server: Server,
    job_id: str,
    on_update: Callable[[JobReport], None],
    *,
    timeout: float | None = None,
    backoff: Backoff = POLLING,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = time.sleep,
) -> JobReport:
    """The finished job, or the job as last seen when ``timeout`` seconds passed first."""
    deadline = None if timeout is None else clock() + timeout
    unchanged = 0
    seen: tuple[object, ...] | None = None
    while True:
        answer = server.job(job_id)
        report = JobReport.parse(answer.document)
        on_update(report)
        if report.finished:
            return report
        now = (report.state, report.progress)
        unchanged = unchanged + 1 if now == seen else 1
        seen = now
        pause = max(backoff.delay(unchanged), answer.retry_after or 0.0)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                return report
            pause = min(pause, remaining)
        sleep(pause)
