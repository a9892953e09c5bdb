"""``GET /v1/jobs/{id}``: a job's state, read from the database.

Under token auth a job of a repository needs ``pull`` on its GUN, a bulk job ``pull`` on every GUN it
publishes, and any other job the admin scope, except that the reader of an asynchronous key issuance proves
its right with the job's reveal token instead (the instance that asked for the key has no token)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import falcon.asgi

from api.auth import require
from api.job_runner import JobRunner
from models.jobs import JobView
from notary.auth.access import ADMIN, Access, repository
from notary.errors import JobNotFoundError
from notary.jobs import JobState

REVEAL_HEADER = "X-Reveal-Token"


class Revealer(Protocol):
    """Completes a job's result for its reader (a newly issued key's secret, shown to the first reader
    presenting the job's reveal token only)."""

    async def reveal_token_matches(self, job_id: str, token: str | None) -> bool: ...

    async def reveal_to_job_reader(
        self, result: Mapping[str, Any], token_matched: bool
    ) -> dict[str, Any]: ...


class Describer(Protocol):
    """For a kind of job about several repositories (a bulk publish): what its reader needs, and what its
    document adds (its progress)."""

    async def reader_accesses(self, job: JobView) -> tuple[Access, ...]: ...

    async def job_details(self, job: JobView) -> dict[str, Any]: ...


class JobResource:
    """``revealers`` and ``describers`` map job kinds to what they add for the reader."""

    def __init__(
        self,
        runner: JobRunner,
        revealers: Mapping[str, Revealer] | None = None,
        describers: Mapping[str, Describer] | None = None,
    ) -> None:
        self.runner = runner
        self.revealers = dict(revealers or {})
        self.describers = dict(describers or {})

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, job_id: str) -> None:
        job = await self.runner.load(job_id) if len(job_id) <= 64 else None
        if job is None:
            raise JobNotFoundError({"id": job_id[:64]})
        revealer = self.revealers.get(job.kind)
        describer = self.describers.get(job.kind)
        token_matched = False
        if describer is not None:
            require(req, *await describer.reader_accesses(job))
        else:
            token = req.get_header(REVEAL_HEADER)
            token_matched = revealer is not None and await revealer.reveal_token_matches(job.id, token)
            _authorise(req, job, token_matched)
        document = job.to_dict()
        if describer is not None:
            document.update(await describer.job_details(job))
        if revealer is not None and job.state is JobState.SUCCEEDED:
            document["result"] = await revealer.reveal_to_job_reader(job.result, token_matched)
        resp.content_type = "application/json"
        resp.data = json.dumps(document, separators=(",", ":")).encode()


def _authorise(req: falcon.asgi.Request, job: JobView, reveal_token_matched: bool) -> None:
    if job.gun is not None:
        require(req, *repository(job.gun, "pull"))
    elif not reveal_token_matched:
        require(req, ADMIN)
