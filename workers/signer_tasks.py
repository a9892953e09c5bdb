"""Tasks on the ``signer`` queue. Only the signer process consumes that queue, and only it is configured with
the key-encryption keys: these tasks are where private keys are generated, sealed and (later) used to sign."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.server_keys import SqlServerKeyStore
from models.tables import Job
from notary import server_keys
from notary.ports import SealedKey, StoredKey
from notary.sealing import associated_data, seal
from notary.settings import require_keks
from notary.tuf import signing
from workers import runtime
from workers.app import celery_app
from workers.base import JobTask


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

    def execute(self, session: Session, job: Job, params: dict[str, Any]) -> Any:
        assert job.gun is not None
        algorithm = runtime.current().settings["trust_service.key_algorithm"]
        key = server_keys.get_or_create_key(
            SqlServerKeyStore(session), generate_sealed_key, job.gun, params["role"], algorithm
        )
        return key_result(key)


class RotateKeyTask(JobTask):
    name = "signer.rotate_key"

    def execute(self, session: Session, job: Job, params: dict[str, Any]) -> Any:
        assert job.gun is not None
        algorithm = runtime.current().settings["trust_service.key_algorithm"]
        key = server_keys.rotate_key(
            SqlServerKeyStore(session), generate_sealed_key, job.gun, params["role"], algorithm
        )
        return key_result(key)


get_key = celery_app.register_task(GetKeyTask())
rotate_key = celery_app.register_task(RotateKeyTask())
