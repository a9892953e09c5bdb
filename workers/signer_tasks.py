"""Tasks on the ``signer`` queue. Only the signer process consumes that queue, and only it is configured with
the key-encryption keys: these tasks are where private keys are generated, sealed and (later) used to sign."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from models import outbox
from models.jobs import work_of
from models.server_keys import SqlServerKeyStore
from models.tables import Job
from notary import server_keys
from notary.errors import InternalError, SignerUnavailableError
from notary.ports import SealedKey, StoredKey
from notary.sealing import associated_data, seal, unseal
from notary.settings import require_keks
from notary.tuf import signing
from notary.tuf.canonical import encode_canonical
from notary.tuf.metadata import Signature, serialize
from notary.tuf.update import SigningOrder, UpdatePlan, timestamp_signed
from workers import runtime
from workers.app import celery_app
from workers.base import JobTask, Next


def generate_sealed_key(gun: str, role: str, algorithm: str) -> SealedKey:
    keks = require_keks(runtime.current().settings)
    private_der = signing.generate_private_key(algorithm)
    public_key = signing.public_key_for(private_der)
    kek_id, sealed = seal(keks, private_der, associated_data(public_key.key_id, gun, role))
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
        plan = UpdatePlan.from_work(work)
        snapshot_raw = None
        if plan.snapshot is not None:
            if not plan.snapshot.signed or plan.snapshot.signed.get("_type") != "Snapshot":
                raise InternalError()
            snapshot_raw = self._sign(session, plan.gun, plan.snapshot, plan.snapshot.signed)
        timestamp = timestamp_signed(plan.timestamp, plan.snapshot_bytes(snapshot_raw))
        timestamp_raw = self._sign(session, plan.gun, plan.timestamp, timestamp)
        signed = {
            "snapshot": None if snapshot_raw is None else base64.b64encode(snapshot_raw).decode(),
            "timestamp": base64.b64encode(timestamp_raw).decode(),
        }
        return Next("tuf.commit_update", {**work, "signed": signed})

    def _sign(self, session: Session, gun: str, order: SigningOrder, signed: dict[str, Any]) -> bytes:
        row = SqlServerKeyStore(session).sealed_private(order.key_id)
        if row is None or row.gun != gun or row.role != order.role:
            raise SignerUnavailableError(
                {"reason": f"no {order.role} key {order.key_id} for this repository"}
            )
        keks = require_keks(runtime.current().settings)
        private_der = unseal(
            keks, row.kek_id, row.private_sealed, associated_data(row.key_id, gun, order.role)
        )
        method, signature = signing.sign(private_der, encode_canonical(signed))
        return serialize(signed, [Signature(order.key_id, method, signature)])


get_key = celery_app.register_task(GetKeyTask())
sign_update = celery_app.register_task(SignUpdateTask())
rotate_key = celery_app.register_task(RotateKeyTask())
