"""``GET /v1/jobs/{id}``: a job's state, read from the database."""

from __future__ import annotations

import json

import falcon.asgi

from api.job_runner import JobRunner
from notary.errors import JobNotFoundError


class JobResource:
    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, job_id: str) -> None:
        job = await self.runner.load(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise JobNotFoundError({"id": job_id[:64]})
        resp.content_type = "application/json"
        resp.data = json.dumps(job.to_dict(), separators=(",", ":")).encode()
