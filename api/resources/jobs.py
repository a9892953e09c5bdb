"""``GET /v1/jobs/{id}``: a job's state, read from the database."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import falcon.asgi

from api.job_runner import JobRunner
from models.jobs import JobView
from notary.errors import JobNotFoundError
from notary.jobs import JobState

# (job id, result, reveal token presented) -> the result as this reader may see it
Reveal = Callable[[str, Mapping[str, Any], str | None], Awaitable[dict[str, Any]]]
# job -> members added to its document (a bulk job's progress)
Details = Callable[[JobView], Awaitable[dict[str, Any]]]
REVEAL_HEADER = "X-Reveal-Token"


class JobResource:
    """``reveals`` maps a job kind to what completes its result for the reader (a newly issued key's secret,
    shown to the first reader only); ``details`` maps a job kind to what its document adds."""

    def __init__(
        self,
        runner: JobRunner,
        reveals: Mapping[str, Reveal] | None = None,
        details: Mapping[str, Details] | None = None,
    ) -> None:
        self.runner = runner
        self.reveals = dict(reveals or {})
        self.details = dict(details or {})

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, job_id: str) -> None:
        job = await self.runner.load(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise JobNotFoundError({"id": job_id[:64]})
        document = job.to_dict()
        details = self.details.get(job.kind)
        if details is not None:
            document.update(await details(job))
        reveal = self.reveals.get(job.kind)
        if reveal is not None and job.state is JobState.SUCCEEDED:
            document["result"] = await reveal(job.id, job.result, req.get_header(REVEAL_HEADER))
        resp.content_type = "application/json"
        resp.data = json.dumps(document, separators=(",", ":")).encode()
