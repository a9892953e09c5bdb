"""Bulk publishing on the workers. A bulk job fans its repositories out as batch jobs; each batch runs the
single POST's chain for its repositories with the same functions (``verified_plan`` → ``sign_plan`` on the
signer → ``checked_update``, ``store_updates``, ``after_store``), each repository on its own: a refusal,
or a store that fails its version check, settles only that repository. Batching exists for speed: one
Celery hop, one signer call and one write transaction per step serve many repositories.

    bulk.publish      (the bulk job)  create the batch jobs and send them; the job then waits at bulk.finish
    bulk.verify       (a batch)       plan every repository
    signer.sign_bulk  (a batch)       sign every planned repository's snapshot and timestamp
    bulk.commit       (a batch)       check the signer's signatures, store each repository, tell the API
                                      processes what changed
    bulk.finish       (the bulk job)  sent when a batch ends: once nothing is pending, the results and webhook

The slow part of each batch step (planning, signing, parsing and signature checks) runs in ``prepare``, on
reads only, so the write transaction (on SQLite the whole database's lock) holds only the writes: one version
query and one insert for the whole batch, unless a concurrent writer forces a savepoint per repository.

Each batch step is a ``JobTask``, so a worker killed mid-step loses nothing: the step's transaction never
committed, its message is redelivered, and the step runs again; a repository leaves ``pending`` once. Should
the ``bulk.finish`` message of the last batch be lost (a kill right after its commit), beat re-sends the bulk
job's stage once it has been quiet for the running lease (twice ``broker.visibility_timeout``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from models import bulk
from models import jobs as job_records
from models.tables import Job
from models.tuf_files import SqlTufStore
from notary.errors import InternalError, NotaryError
from notary.jobs import JobState
from workers import runtime
from workers.app import celery_app
from workers.base import TRANSIENT_ERRORS, Done, JobTask, Next, announce_end
from workers.cache_invalidation import announce_changes
from workers.signer_tasks import sign_plan
from workers.tuf_tasks import (
    CheckedUpdate,
    after_store,
    checked_update,
    held_keys,
    signing_keys,
    verified_plan,
)

log = logging.getLogger("notary.bulk")

PUBLISH, VERIFY, SIGN, COMMIT, FINISH = (
    "bulk.publish",
    "bulk.verify",
    "signer.sign_bulk",
    "bulk.commit",
    "bulk.finish",
)
# Batches are small enough for both worker processes to share a bulk and for progress to move steadily,
# and large enough that the per-step overhead (a Celery hop, a transaction) is spread over many repositories.
MAX_BATCH = 25
MIN_BATCHES = 8

T = TypeVar("T")


def batches(item_ids: list[int]) -> list[list[int]]:
    size = max(1, min(MAX_BATCH, math.ceil(len(item_ids) / MIN_BATCHES)))
    return [item_ids[start : start + size] for start in range(0, len(item_ids), size)]


def attempt(gun: str, action: Callable[[], T]) -> tuple[T | None, dict[str, Any] | None]:
    """(result, None), or (None, the error a single POST would answer with) when ``action`` refuses the
    repository. Transient failures (database, Redis) are the whole step's: they propagate to be retried."""
    try:
        return action(), None
    except TRANSIENT_ERRORS:
        raise
    except NotaryError as refused:
        return None, refused.to_dict()
    except Exception:
        log.exception("repository failed unexpectedly", extra={"gun": gun})
        return None, InternalError().to_dict()


class PublishBulkTask(JobTask):
    name = PUBLISH

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        pending = bulk.pending_ids(session, job.id)
        if not pending:  # every repository was refused up front
            return Done({"repositories": bulk.results(session, job.id)})
        created = [
            job_records.create_job(session, VERIFY, {"bulk": job.id, "items": chunk}).id
            for chunk in batches(pending)
        ]
        return Next(FINISH, {"batches": created})

    def after_commit(self, job: Job, outcome: Done | Next) -> None:
        if isinstance(outcome, Next):
            for batch_id in outcome.work["batches"]:
                self.app.send_task(VERIFY, args=[batch_id])

    def on_failure(self, session: Session, job_id: str, error: NotaryError) -> None:
        bulk.fail_pending(session, bulk.pending_ids(session, job_id), error.to_dict())


class BatchTask(JobTask):
    """A step of a batch job. A batch that fails as a whole (transient failures past their retries) fails
    its repositories still pending; its end, either way, may end the bulk job."""

    abstract = True

    def on_failure(self, session: Session, job_id: str, error: NotaryError) -> None:
        bulk.fail_pending(session, _batch_params(session, job_id)["items"], error.to_dict())

    def announce(self, job_id: str) -> None:
        # No one waits for a batch and it has no webhook: only the bulk job's end is announced.
        with runtime.current().database.read() as session:
            bulk_id = _batch_params(session, job_id)["bulk"]
        self.app.send_task(FINISH, args=[bulk_id])


def _batch_params(session: Session, job_id: str) -> dict[str, Any]:
    job = job_records.get_job(session, job_id)
    assert job is not None
    params: dict[str, Any] = json.loads(job.params)
    return params


class VerifyBatchTask(BatchTask):
    name = VERIFY

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        planned: list[dict[str, Any]] = []
        with runtime.current().database.read() as session:
            for repository in bulk.pending_repositories(session, params["items"]):
                plan, error = attempt(repository.gun, partial(_plan, session, repository))
                planned.append(
                    {"item": repository.item_id, "gun": repository.gun, "plan": plan, "error": error}
                )
        return planned

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        bulk.settle(session, [bulk.Outcome(e["item"], error=e["error"]) for e in prepared if e["error"]])
        signable = [entry for entry in prepared if entry["error"] is None]
        if not signable:
            return Done({"published": []})
        return Next(SIGN, {"items": signable})


def _plan(session: Session, repository: bulk.PendingRepository) -> dict[str, Any]:
    return verified_plan(session, repository.gun, repository.files).to_work()


class SignBatchTask(BatchTask):
    """On the signer: as ``signer.sign_update``, for every repository of the batch in one task."""

    name = SIGN

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        with runtime.current().database.read() as session:
            for entry in work["items"]:
                entry["signed"], entry["error"] = attempt(
                    entry["gun"], partial(sign_plan, session, entry["plan"])
                )
        return work

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        return Next(COMMIT, prepared)


class CommitBatchTask(BatchTask):
    name = COMMIT

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        """Parse each repository's files and check the signer's signatures, outside the write lock."""
        signable = [entry for entry in work["items"] if entry["error"] is None]
        with runtime.current().database.read() as session:
            held = signing_keys(session, [entry["plan"] for entry in signable])
        checked: list[tuple[int, str, CheckedUpdate | None, dict[str, Any] | None]] = []
        for entry in work["items"]:
            update, error = None, entry["error"]
            if error is None:
                signed_work = {**entry["plan"], "signed": entry["signed"]}
                update, error = attempt(entry["gun"], partial(checked_update, signed_work, held))
            checked.append((entry["item"], entry["gun"], update, error))
        return checked

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        updates = {update.gun: update for _, _, update, _ in prepared if update is not None}
        # Checked outside this transaction; locked and checked again so the pending-key sweep cannot have
        # deleted (or delete) a key that a stored root is about to activate.
        used = {key_id for update in updates.values() for key_id in update.signed_with}
        still_held = held_keys(session, used, lock=True)
        refused: dict[str, NotaryError] = {
            gun: InternalError()
            for gun, update in updates.items()
            if not update.signed_with.issubset(still_held)
        }
        refused.update(
            SqlTufStore(session).store_updates(
                {gun: u.new_files() for gun, u in updates.items() if gun not in refused}
            )
        )
        stored = [update for gun, update in updates.items() if gun not in refused]
        after_store(session, stored)
        outcomes: list[bulk.Outcome] = []
        for item, gun, update, error in prepared:
            if update is None or gun in refused:
                outcomes.append(bulk.Outcome(item, error=error or refused[gun].to_dict()))
            else:
                outcomes.append(bulk.Outcome(item, version=update.timestamp.version))
        bulk.settle(session, outcomes)
        published = [update.gun for update in stored]
        return Done({"published": published})

    def after_commit(self, job: Job, outcome: Done | Next) -> None:
        # Before the bulk job can end, so no client reads older metadata once it sees the job done.
        guns = outcome.result["published"] if isinstance(outcome, Done) else []
        if guns:
            announce_changes(runtime.current().redis, guns)


@celery_app.task(name=FINISH)
def finish_bulk(job_id: str) -> str:
    """End the bulk job once no repository is pending: its results in request order, state ``succeeded``
    (whatever each repository's outcome), webhook. The conditional finish lets only one caller do it."""
    database = runtime.current().database
    with database.read() as session:  # most calls come while batches still run: no write lock for them
        job = job_records.get_job(session, job_id)
        if (
            job is None
            or job.stage != FINISH
            or JobState(job.state).terminal
            or bulk.has_pending(session, job_id)
        ):
            return "waiting"
    with database.transaction() as session:
        if bulk.has_pending(session, job_id):
            return "waiting"
        result = {"repositories": bulk.results(session, job_id)}
        finished = job_records.finish(session, job_id, JobState.SUCCEEDED, result=result, stage=FINISH)
    if not finished:
        return "skipped"
    announce_end(job_id)
    log.info("bulk publish finished", extra={"job_id": job_id})
    return "succeeded"


publish_bulk = celery_app.register_task(PublishBulkTask())
verify_batch = celery_app.register_task(VerifyBatchTask())
sign_batch = celery_app.register_task(SignBatchTask())
commit_batch = celery_app.register_task(CommitBatchTask())
