"""Tasks on the ``signer`` queue. Only the signer process consumes that queue, and only it is configured with
the key-encryption keys: these tasks are where private keys are generated, sealed and (later) used to sign."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from models import outbox
from models.base import utcnow
from models.jobs import work_of
from models.server_keys import SqlServerKeyStore
from models.tables import Job
from notary import server_keys
from notary.errors import InternalError, SignerUnavailableError
from notary.ports import SealedKey, StoredKey
from notary.sealing import SealingError, seal, server_key_aad, unseal
from notary.settings import require_keks
from notary.tuf import signing
from notary.tuf.canonical import encode_canonical
from notary.tuf.metadata import Signature, serialize
from notary.tuf.timefmt import parse_go_time
from notary.tuf.update import (
    SNAPSHOT_LIFETIME,
    TIMESTAMP_LIFETIME,
    SigningOrder,
    UpdatePlan,
    snapshot_signed,
    timestamp_signed,
)
from workers import key_rewrap, runtime
from workers.app import celery_app
from workers.base import JobTask, Next

log = logging.getLogger("notary.signer")
# Batches per run of signer.rewrap_keys: a run then sends the next one, behind the signing tasks queued
# meanwhile, so a long pass never holds up a publish.
REWRAP_BATCHES_PER_TASK = 10
# The metadata types the server signs, with the longest life the server gives them (notary/tuf/update.py).
SERVER_SIGNED_ROLES = {
    "timestamp": ("Timestamp", TIMESTAMP_LIFETIME),
    "snapshot": ("Snapshot", SNAPSHOT_LIFETIME),
}
# Between the clock of the worker that planned an expiry and the signer's.
CLOCK_SKEW = timedelta(hours=1)


def generate_sealed_key(gun: str, role: str, algorithm: str) -> SealedKey:
    keks = require_keks(runtime.current().settings)
    private_der = signing.generate_private_key(algorithm)
    public_key = signing.public_key_for(private_der)
    kek_id, sealed = seal(keks, private_der, server_key_aad(public_key.key_id, gun, role))
    return SealedKey(public_key=public_key, algorithm=algorithm, kek_id=kek_id, sealed_private=sealed)


def key_result(key: StoredKey) -> dict[str, Any]:
    return {
        "keytype": key.public_key.keytype,
        "public": key.public_key.public,
        "key_id": key.public_key.key_id,
        "role": key.role,
        "status": key.status,
    }


class GetKeyTask(JobTask):
    name = "signer.get_key"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        assert job.gun is not None
        algorithm = runtime.current().settings["trust_service.key_algorithm"]
        key = server_keys.get_or_create_key(
            SqlServerKeyStore(session), generate_sealed_key, job.gun, params["role"], algorithm
        )
        return key_result(key)


class RotateKeyTask(JobTask):
    name = "signer.rotate_key"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        assert job.gun is not None
        algorithm = runtime.current().settings["trust_service.key_algorithm"]
        key = server_keys.rotate_key(
            SqlServerKeyStore(session), generate_sealed_key, job.gun, params["role"], algorithm
        )
        rotated = {"gun": job.gun, "role": key.role, "key_id": key.public_key.key_id, "status": key.status}
        outbox.record(session, "key.rotated", rotated, gun=job.gun)
        return key_result(key)


class SignUpdateTask(JobTask):
    """Sign what the verify step planned: the server snapshot (if any), then a timestamp that it builds
    itself from the final snapshot bytes. A key signs only for its own GUN and role."""

    name = "signer.sign_update"

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        work = work_of(job)
        return Next("tuf.commit_update", {**work, "signed": sign_plan(session, work)})


def sign_plan(session: Session, work: dict[str, Any]) -> dict[str, str | None]:
    """The signed files (base64) of a planned update: the server snapshot if planned, and the timestamp."""
    plan = UpdatePlan.from_work(work)
    snapshot_raw = None
    if plan.snapshot is not None:
        meta = (plan.snapshot.signed or {}).get("meta")
        if not isinstance(meta, dict):
            raise InternalError()
        # Rebuilt here from the order, like the timestamp: signing the plan's own dict would sign whatever
        # else it holds, such as a second "expires" spelled so that only Go's case-folding JSON reads it.
        snapshot_raw = _sign(session, plan.gun, plan.snapshot, snapshot_signed(plan.snapshot, meta))
    timestamp = timestamp_signed(plan.timestamp, plan.snapshot_bytes(snapshot_raw))
    timestamp_raw = _sign(session, plan.gun, plan.timestamp, timestamp)
    return {
        "snapshot": None if snapshot_raw is None else base64.b64encode(snapshot_raw).decode(),
        "timestamp": base64.b64encode(timestamp_raw).decode(),
    }


def _sign(session: Session, gun: str, order: SigningOrder, signed: dict[str, Any]) -> bytes:
    _check_lifetime(gun, order.role, signed)
    row = SqlServerKeyStore(session).sealed_private(order.key_id)
    if row is None or row.gun != gun or row.role != order.role:
        raise SignerUnavailableError({"reason": f"no {order.role} key {order.key_id} for this repository"})
    keks = require_keks(runtime.current().settings)
    try:
        private_der = unseal(
            keks, row.kek_id, row.private_sealed, server_key_aad(row.key_id, gun, order.role)
        )
    except SealingError as error:
        # The KEK ids are for the operator's eyes (this log), not for the client.
        log.error(
            "cannot open a server key",
            extra={"key_id": row.key_id, "kek_id": row.kek_id, "error": str(error)},
        )
        raise SignerUnavailableError(
            {"reason": f"the signer cannot open the {order.role} key {order.key_id} of this repository"}
        ) from None
    method, signature = signing.sign(private_der, encode_canonical(signed))
    return serialize(signed, [Signature(order.key_id, method, signature)])


def _check_lifetime(gun: str, role: str, signed: dict[str, Any]) -> None:
    """Sign nothing that expires later than this server would have it expire, nor anything but the role's own
    type. What the signer signs comes from a worker's plan: this bounds what a compromised worker, or anyone
    able to queue signer tasks, can have signed with a repository's key (a far-off expiry would defeat the
    freeze-attack protection of the timestamp for good)."""
    expected_type, lifetime = SERVER_SIGNED_ROLES.get(role, (None, timedelta(0)))
    if expected_type is None or signed.get("_type") != expected_type:
        log.error("refused to sign: not the metadata type of its role", extra={"gun": gun, "role": role})
        raise InternalError()
    try:
        expires = parse_go_time(signed.get("expires"))  # type: ignore[arg-type]
    except ValueError:
        log.error("refused to sign: unreadable expiry", extra={"gun": gun, "role": role})
        raise InternalError() from None
    if expires > utcnow() + lifetime + CLOCK_SKEW:
        log.error(
            "refused to sign: expires after the server's lifetime for the role",
            extra={"gun": gun, "role": role, "expires": signed.get("expires")},
        )
        raise InternalError()


get_key = celery_app.register_task(GetKeyTask())
sign_update = celery_app.register_task(SignUpdateTask())
rotate_key = celery_app.register_task(RotateKeyTask())


@celery_app.task(name="signer.rewrap_keys")
def rewrap_keys(after_id: int = 0, rewrapped: int = 0) -> dict[str, int] | None:
    """Beat: re-seal every server key under the current KEK (see ``workers.key_rewrap``), a few batches per
    run; returns the keys left under other KEKs once the pass is done."""
    state = runtime.current()
    keks = require_keks(state.settings)
    progress = key_rewrap.rewrap(state.database, keks, after_id=after_id, max_batches=REWRAP_BATCHES_PER_TASK)
    rewrapped += progress.rewrapped
    if not progress.finished:
        log.info("re-wrap in progress", extra={"rewrapped": rewrapped, "last_id": progress.last_id})
        rewrap_keys.apply_async(args=[progress.last_id, rewrapped])
        return None
    return key_rewrap.report(state.database, keks, rewrapped)
