"""Answering for endpoints that enqueue work: synchronously by default, or 202 with
``Prefer: respond-async``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi
import redis.asyncio as aioredis

from api.job_runner import JobRunner
from models.jobs import JobView
from notary.errors import JobTimeoutError, NotaryError, SignerUnavailableError, WebhooksDisabledError
from notary.jobs import JobState, prefers_async, validate_callback_url
from notary.settings import Settings
from workers.heartbeat import HEARTBEAT_KEY

JSON_TYPE = "application/json"


def job_location(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def callback_url_of(
    req: falcon.asgi.Request, settings: Settings, body: dict[str, Any] | None = None
) -> str | None:
    """The job's webhook target (JSON body or query), refused up front when webhooks cannot be signed."""
    value = (body or {}).get("callback_url") or req.get_param("callback_url")
    if value is None:
        return None
    if not settings["webhooks.secret"]:
        raise WebhooksDisabledError()
    return validate_callback_url(value)


async def require_signer(redis_client: aioredis.Redis) -> None:
    """Fail fast (503) rather than queue work for a signer that no heartbeat shows."""
    if not await redis_client.exists(HEARTBEAT_KEY):
        raise SignerUnavailableError()


async def run_job(
    req: falcon.asgi.Request,
    resp: falcon.asgi.Response,
    runner: JobRunner,
    wait_timeout: float,
    task_name: str,
    params: dict[str, Any],
    *,
    gun: str | None,
    callback_url: str | None,
    on_success: Callable[[falcon.asgi.Response, Any], None],
    settle: bool = False,
) -> None:
    respond_async = prefers_async(req.get_header("Prefer"))
    job_id = await runner.submit(
        task_name, params, gun=gun, callback_url=callback_url, will_wait=not respond_async
    )
    if respond_async:
        job = await runner.load(job_id)
        assert job is not None
        respond_accepted(resp, job)
        return
    job = await runner.wait(job_id, wait_timeout, settle=settle)
    on_success(resp, succeeded_result(resp, job_id, job))


def succeeded_result(resp: falcon.asgi.Response, job_id: str, job: JobView | None) -> Any:
    """The result of a job that succeeded; the job's own error if it failed; 504 with the job's Location
    if it is still under way."""
    if job is not None and job.state is JobState.SUCCEEDED:
        return job.result
    if job is not None and job.state is JobState.FAILED:
        raise NotaryError.from_dict(job.error or {})
    resp.set_header("Location", job_location(job_id))
    raise JobTimeoutError({"job": job_id})


def respond_accepted(resp: falcon.asgi.Response, job: JobView, **extra: Any) -> None:
    resp.status = falcon.HTTP_202
    resp.set_header("Location", job_location(job.id))
    resp.set_header("Preference-Applied", "respond-async")
    resp.content_type = JSON_TYPE
    resp.data = json.dumps({**job.to_dict(), **extra}, separators=(",", ":")).encode()
