"""The publish chain on the ``default`` queue: ``tuf.verify_upload`` (or ``tuf.refresh``) plans the update,
``signer.sign_update`` signs the snapshot and timestamp, and ``tuf.commit_update`` checks those signatures
and stores everything in one transaction."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.jobs import create_job, work_of
from models.server_keys import activate_listed, delete_unused_pending, held_public_keys
from models.tables import Job, ServerKey
from models.tuf_files import NewFile, SqlTufStore
from notary.errors import InternalError, InvalidUpdateError, MalformedJSONError
from notary.tuf import roles
from notary.tuf.errors import ValidationError
from notary.tuf.keys import PublicKey, verify_signature
from notary.tuf.metadata import MalformedMetadataError, SignedMetadata, parse_metadata
from notary.tuf.update import UpdatePlan, plan_refresh, plan_update
from workers import metrics, runtime
from workers.app import celery_app
from workers.base import Done, JobTask, Next
from workers.cache_invalidation import announce_change

log = logging.getLogger("notary.tuf")


class StoredRepository:
    """``notary.tuf.update.RepositoryView`` over the SQL store, for one GUN."""

    def __init__(self, session: Session, gun: str) -> None:
        self.store = SqlTufStore(session)
        self.gun = gun

    def current(self, role: str) -> bytes | None:
        found = self.store.current(self.gun, role)
        return None if found is None else found.data

    def latest_version(self, role: str) -> int:
        found = self.store.latest(self.gun, role)
        return 0 if found is None else found.version


def parse_uploads(files: dict[str, str]) -> dict[str, SignedMetadata]:
    try:
        return {role: parse_metadata(role, base64.b64decode(raw)) for role, raw in files.items()}
    except MalformedMetadataError:
        raise MalformedJSONError() from None


def verified_plan(session: Session, gun: str, files: dict[str, str]) -> UpdatePlan:
    """Validate an upload ({role: base64}) against the stored repository; raises the NotaryError a
    ``POST {T}/`` answers with."""
    uploads = parse_uploads(files)
    try:
        return plan_update(
            gun, uploads, StoredRepository(session, gun), held_public_keys(session, gun), utcnow()
        )
    except ValidationError as invalid:
        raise InvalidUpdateError(invalid.detail()) from None


class VerifyUploadTask(JobTask):
    name = "tuf.verify_upload"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        assert job.gun is not None
        return Next("signer.sign_update", verified_plan(session, job.gun, params["files"]).to_work())


class RefreshTask(JobTask):
    """Re-sign a repository's timestamp (and server-held snapshot) that expires within ``margin`` seconds."""

    name = "tuf.refresh"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        assert job.gun is not None
        margin = timedelta(seconds=params.get("margin", 0))
        held = held_public_keys(session, job.gun)
        try:
            plan = plan_refresh(job.gun, StoredRepository(session, job.gun), held, utcnow(), margin)
        except ValidationError as invalid:
            log.error("cannot refresh repository", extra={"gun": job.gun, "reason": invalid.msg})
            raise InternalError() from None
        if plan is None:
            return Done({"gun": job.gun, "refreshed": False})
        return Next("signer.sign_update", plan.to_work())


@dataclass(frozen=True)
class HeldKey:
    gun: str
    role: str
    public: PublicKey


def signing_keys(
    session: Session, works: Sequence[dict[str, Any]], *, lock: bool = False
) -> dict[str, HeldKey]:
    """The server keys that the signer was asked to sign planned updates with, by key id (see
    ``held_keys`` for ``lock``)."""
    return held_keys(
        session,
        {work[order]["key_id"] for work in works for order in ("snapshot", "timestamp") if work[order]},
        lock=lock,
    )


def held_keys(session: Session, key_ids: set[str], *, lock: bool = False) -> dict[str, HeldKey]:
    """The server keys of ``key_ids`` that still exist. With ``lock`` (in the write transaction that stores
    updates signed with them) the rows stay locked until it commits, so the pending-key sweep cannot delete
    a key between this check and the activation of the root that lists it."""
    if not key_ids:
        return {}
    query = select(ServerKey).where(ServerKey.key_id.in_(key_ids))
    rows = session.scalars(query.with_for_update() if lock else query)
    return {row.key_id: HeldKey(row.gun, row.role, PublicKey(row.keytype, row.public)) for row in rows}


def _checked_signature(held: Mapping[str, HeldKey], gun: str, role: str, raw: bytes) -> SignedMetadata:
    """The signer's output is trusted only once its signature verifies with the held public key."""
    metadata = parse_metadata(role, raw)
    (signature,) = metadata.signatures
    key = held.get(signature.keyid)
    if (
        key is None
        or (key.gun, key.role) != (gun, role)
        or not verify_signature(key.public, signature.method, signature.sig, metadata.canonical_signed)
    ):
        raise InternalError()
    return metadata


@dataclass(frozen=True)
class CheckedUpdate:
    """A planned update with the signer's files, their signatures verified: ready to store."""

    gun: str
    files: dict[str, SignedMetadata]
    root_key_ids: dict[str, list[str]]
    signed_with: frozenset[str]  # the server keys the signer used

    def new_files(self) -> list[NewFile]:
        return [
            NewFile(m.role, m.version, m.raw, m.sha256, m.expires)
            for m in _shallow_first(self.files.values())
        ]

    @property
    def timestamp(self) -> SignedMetadata:
        return self.files["timestamp"]

    def published(self) -> dict[str, Any]:
        return {
            "gun": self.gun,
            "published": {role: metadata.version for role, metadata in sorted(self.files.items())},
            "timestamp": {"version": self.timestamp.version, "sha256": self.timestamp.sha256},
        }


def checked_update(work: dict[str, Any], held: Mapping[str, HeldKey]) -> CheckedUpdate:
    """The planned update with the signer's files (``work["signed"]``), once their signatures verify with
    the held public keys (from ``signing_keys``)."""
    plan = UpdatePlan.from_work(work)
    signed = {role: base64.b64decode(raw) for role, raw in work["signed"].items() if raw is not None}
    files: dict[str, SignedMetadata] = {role: parse_metadata(role, raw) for role, raw in plan.files.items()}
    for role, raw in signed.items():
        files[role] = _checked_signature(held, plan.gun, role, raw)
    signed_with = frozenset(files[role].signatures[0].keyid for role in signed)
    return CheckedUpdate(plan.gun, files, plan.root_key_ids, signed_with)


def after_store(session: Session, updates: Sequence[CheckedUpdate]) -> None:
    """What follows stored updates in their transaction: a new root puts the server keys it lists to use."""
    activate_listed(
        session,
        {
            (update.gun, role): update.root_key_ids[role]
            for update in updates
            if "root" in update.files
            for role in roles.SERVER_ROLES
        },
    )
    for update in updates:
        timestamp = update.timestamp
        log.info(
            f"updated {update.gun} to timestamp version {timestamp.version}, checksum {timestamp.sha256}",
            extra={"gun": update.gun},
        )


def commit_signed(session: Session, work: dict[str, Any]) -> dict[str, Any]:
    """Store a planned, signed update; returns what was published. VersionError unless every version beats
    the stored ones."""
    # Read (and locked) in this transaction: a key the sweep deleted meanwhile fails the signature check.
    update = checked_update(work, signing_keys(session, [work], lock=True))
    SqlTufStore(session).store_update(update.gun, update.new_files())
    after_store(session, [update])
    return update.published()


class CommitUpdateTask(JobTask):
    name = "tuf.commit_update"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        return Done(commit_signed(session, work_of(job)))

    def after_commit(self, job: Job, outcome: Done | Next) -> None:
        # Before the job is announced (and so before the client gets its 200), so no API process can
        # answer from a cache entry older than this commit.
        acknowledged = announce_change(runtime.current().redis, job.gun or "")
        log.debug("cache invalidation acknowledged", extra={"gun": job.gun, "processes": acknowledged})


def _shallow_first(files: Any) -> list[SignedMetadata]:
    return sorted(files, key=lambda m: (roles.depth(m.role), m.role))


verify_upload = celery_app.register_task(VerifyUploadTask())
refresh = celery_app.register_task(RefreshTask())
commit_update = celery_app.register_task(CommitUpdateTask())


REFRESH_BATCH = 500


@celery_app.task(name="tuf.refresh_expiring")
def refresh_expiring() -> int:
    """Beat: queue a refresh job for every repository whose timestamp expires within ``tuf.refresh_before``,
    so an idle repository never serves stale metadata (notary only re-signs lazily, on the first read)."""
    state = runtime.current()
    margin = state.settings["tuf.refresh_before"]
    queued: list[str] = []
    with state.database.transaction() as session:
        expiring = SqlTufStore(session).expiring_timestamps(
            utcnow() + timedelta(seconds=margin), REFRESH_BATCH, RefreshTask.name
        )
        for gun in expiring:
            queued.append(create_job(session, RefreshTask.name, {"margin": margin}, gun=gun).id)
    for job_id in queued:  # after the commit, so a worker never sees a missing job
        celery_app.send_task(RefreshTask.name, args=[job_id])
    if queued:
        log.info("queued timestamp refreshes", extra={"count": len(queued)})
    return len(queued)


PENDING_KEY_BATCH = 500


@celery_app.task(name="tuf.sweep_pending_keys")
def sweep_pending_keys() -> int:
    """Beat: delete the server keys minted by ``GET``/``POST .key`` that no root activated within
    ``signer.pending_key_max_age``; active (and retired) keys are never touched. Needs no KEK."""
    state = runtime.current()
    cutoff = utcnow() - timedelta(seconds=state.settings["signer.pending_key_max_age"])
    swept = 0
    while True:
        with state.database.transaction() as session:
            deleted = delete_unused_pending(session, cutoff, PENDING_KEY_BATCH)
        swept += deleted
        if deleted < PENDING_KEY_BATCH:
            break
    metrics.PENDING_KEYS_SWEPT.inc(swept)
    if swept:
        log.info("deleted server keys no root activated", extra={"count": swept})
    return swept
