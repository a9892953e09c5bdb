"""``POST /v1/bulk/publish``: many repositories' updates in one request, published by one job.

It answers ``202`` with ``Location: /v1/jobs/{id}`` and the job document, whose ``progress`` counts the
repositories done (and failed) of the total. A retry with the same ``Idempotency-Key`` and the same request
answers ``200`` with that job, whatever its state, and publishes nothing again; the same key with another
request is ``422 IDEMPOTENCY_KEY_REUSED``. Keys are scoped to this deployment and kept as long as their job.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from typing import Any

import falcon
import falcon.asgi
from celery import Celery
from sqlalchemy.orm import Session

from api.auth import require
from api.bulk_body import ReceivedBody, parse_body, receive_body
from api.responding import JSON_TYPE, callback_url_of, job_location
from api.signer_presence import SignerPresence
from models import bulk
from models import jobs as job_records
from models.db import Database
from models.jobs import JobView
from notary.auth.access import Access, repository
from notary.bulk import BulkLimits, BulkRepository
from notary.errors import IdempotencyKeyReusedError, InternalError, InvalidIdempotencyKeyError
from notary.settings import Settings
from workers.bulk_tasks import PUBLISH

IDEMPOTENCY_HEADER = "Idempotency-Key"
# Without token auth Idempotency-Keys are per deployment; with it, per token subject.
DEPLOYMENT_SCOPE = ""
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def idempotency_key(req: falcon.asgi.Request) -> str | None:
    """The header's key; a Structured Field string (``"..."``) is unquoted, as the IETF draft spells it."""
    raw = req.get_header(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not _KEY.fullmatch(key):
        raise InvalidIdempotencyKeyError()
    return key


class BulkPublishResource:
    def __init__(
        self, settings: Settings, database: Database, celery_app: Celery, signer: SignerPresence
    ) -> None:
        self.settings = settings
        self.database = database
        self.celery_app = celery_app
        self.signer = signer
        self.max_upload_bytes: int = settings["limits.max_upload_bytes"]
        self.limits = BulkLimits(
            max_repositories=settings["limits.max_bulk_repositories"],
            max_file_bytes=settings["limits.max_part_bytes"],
            gun_prefixes=settings["repositories.gun_prefixes"],
        )

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        key = idempotency_key(req)
        body = await receive_body(req, self.max_upload_bytes)
        try:
            await self._publish(req, resp, key, body)
        finally:
            body.close()

    async def _publish(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, key: str | None, body: ReceivedBody
    ) -> None:
        query_callback = req.get_param("callback_url") or ""
        fingerprint = hashlib.sha256(f"{body.form}\n{query_callback}\n{body.sha256}".encode()).hexdigest()
        repositories, body_callback = await asyncio.to_thread(
            parse_body, body, self.limits, self.max_upload_bytes
        )
        # Every repository's push access, before anything is replayed or created; under token auth the
        # caller's Idempotency-Keys are its own.
        token = require(req, *[access for r in repositories for access in repository(r.gun, "push", "pull")])
        scope = DEPLOYMENT_SCOPE if token is None else f"sub:{token.subject}"
        if key is not None:
            replayed = await asyncio.to_thread(self._replay, scope, key, fingerprint)
            if replayed is not None:
                self._answer(resp, falcon.HTTP_200, replayed)
                return
        callback_url = callback_url_of(req, self.settings, {"callback_url": body_callback})
        await self.signer.require()
        document, created = await asyncio.to_thread(
            self._create, repositories, callback_url, scope, key, fingerprint
        )
        if created:
            await asyncio.to_thread(self.celery_app.send_task, PUBLISH, args=[document["id"]])
        self._answer(resp, falcon.HTTP_202 if created else falcon.HTTP_200, document)

    def _replay(self, scope: str, key: str, fingerprint: str) -> dict[str, Any] | None:
        with self.database.read() as session:
            found = bulk.idempotent_job(session, scope, key)
            return None if found is None else self._replayed(session, found, fingerprint)

    def _replayed(self, session: Session, found: tuple[str, str], fingerprint: str) -> dict[str, Any]:
        recorded, job_id = found
        if not hmac.compare_digest(recorded, fingerprint):
            raise IdempotencyKeyReusedError()
        job = job_records.get_job(session, job_id)
        if job is None:  # purged with its key in one transaction, so never seen; refuse rather than guess
            raise InternalError()
        return bulk_document(session, job_records.view(job))

    def _create(
        self,
        repositories: list[BulkRepository],
        callback_url: str | None,
        scope: str,
        key: str | None,
        fingerprint: str,
    ) -> tuple[dict[str, Any], bool]:
        """(job document, True) for a new job; (the key's job, False) when a concurrent request with the
        same key won the race."""
        try:
            with self.database.transaction() as session:
                found = None if key is None else bulk.idempotent_job(session, scope, key)
                if found is not None:
                    return self._replayed(session, found, fingerprint), False
                job = job_records.create_job(
                    session, PUBLISH, {"repositories": len(repositories)}, callback_url=callback_url
                )
                bulk.add_repositories(session, job.id, repositories)
                if key is not None:
                    bulk.remember_key(session, scope, key, fingerprint, job.id)
                return bulk_document(session, job_records.view(job)), True
        except bulk.KeyTakenError:
            assert key is not None
            replayed = self._replay(scope, key, fingerprint)
            if replayed is None:
                raise InternalError() from None
            return replayed, False

    def _answer(self, resp: falcon.asgi.Response, status: str, document: dict[str, Any]) -> None:
        resp.status = status
        resp.set_header("Location", job_location(document["id"]))
        resp.content_type = JSON_TYPE
        resp.data = json.dumps(document, separators=(",", ":")).encode()

    async def reader_accesses(self, job: JobView) -> tuple[Access, ...]:
        """A bulk job is read with ``pull`` on every repository it publishes."""

        def read() -> list[str]:
            with self.database.read() as session:
                return bulk.guns(session, job.id)

        return tuple(access for gun in await asyncio.to_thread(read) for access in repository(gun, "pull"))

    async def job_details(self, job: JobView) -> dict[str, Any]:
        """What ``GET /v1/jobs/{id}`` adds to a bulk job's document: its progress."""

        def read() -> dict[str, Any]:
            with self.database.read() as session:
                return {"progress": bulk.progress(session, job.id)}

        return await asyncio.to_thread(read)


def bulk_document(session: Session, job: JobView) -> dict[str, Any]:
    return {**job.to_dict(), "progress": bulk.progress(session, job.id)}
