"""A synchronous issuance asks a worker for the roles (a Celery task answering through Redis) and writes the
key itself, in one transaction: no job row, and nothing written when the roles cannot be had."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from models.db import Database
from models.tables import AccessListEntry, Job, SharedKey, SharedKeyAudit
from tests.api.test_shared_keys import issue
from tests.support.instance_identity import ACCOUNT, InstanceIdentityAuthority
from tests.support.processes import NotaryStack, new_kek


def configure(stack: NotaryStack, authority: InstanceIdentityAuthority, **politician: Any) -> None:
    pinned = stack.root / "pinned.pem"
    pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    stack.write_config(
        keys={"dc": "test-dc", "keks": [new_kek()], "pinned_certificates": [str(pinned)]},
        politician=politician or {"bindings": [{"match": {"account": ACCOUNT}, "roles": ["web"]}]},
        jobs={"wait_timeout": 2},
    )


def counts(stack: NotaryStack) -> dict[str, int]:
    database = Database(stack.db_url)
    with database.read() as session:
        found = {
            table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Job, SharedKey, SharedKeyAudit, AccessListEntry)
        }
    database.dispose()
    return found


def test_a_synchronous_issuance_leaves_no_job_behind(stack: NotaryStack) -> None:
    authority = InstanceIdentityAuthority()
    configure(stack, authority)
    stack.start_all()
    issued = issue(stack, authority, "i-0000000000000000c")
    assert issued.status_code == 201, issued.text
    assert issued.json()["roles"] == ["web"]
    assert counts(stack) == {"jobs": 0, "shared_keys": 1, "shared_key_audit": 1, "access_list": 1}


def test_with_no_worker_to_ask_issuance_is_roles_unavailable_and_writes_nothing(stack: NotaryStack) -> None:
    authority = InstanceIdentityAuthority()
    configure(stack, authority)
    stack.start("web")
    refused = issue(stack, authority, "i-0000000000000000d")
    assert refused.status_code == 503, refused.text
    assert refused.json()["errors"][0]["code"] == "ROLES_UNAVAILABLE"
    assert counts(stack) == {"jobs": 0, "shared_keys": 0, "shared_key_audit": 0, "access_list": 0}

    stack.start("worker")  # the lookup sent meanwhile answers nobody; a retry is issued its key
    assert issue(stack, authority, "i-0000000000000000d").status_code == 201
    assert counts(stack)["shared_keys"] == 1


def test_a_politician_outage_is_roles_unavailable_and_writes_nothing(stack: NotaryStack) -> None:
    authority = InstanceIdentityAuthority()
    configure(stack, authority, provider="http", url="http://127.0.0.1:9/roles", retries=0, timeout=1)
    stack.start_all()
    refused = issue(stack, authority, "i-0000000000000000e")
    assert refused.status_code == 503, refused.text
    assert refused.json()["errors"][0]["code"] == "ROLES_UNAVAILABLE"
    assert counts(stack) == {"jobs": 0, "shared_keys": 0, "shared_key_audit": 0, "access_list": 0}


def test_concurrent_issuances_each_get_their_own_instances_roles(stack: NotaryStack) -> None:
    # Concurrent lookups share task messages (api/task_calls.py); each answer must still reach its own call.
    authority = InstanceIdentityAuthority()
    instances = [f"i-{n:017x}" for n in range(1, 25)]
    bindings = [{"match": {"instance": instance}, "roles": [f"role-{instance}"]} for instance in instances]
    configure(stack, authority, bindings=bindings)
    stack.start_all()
    with ThreadPoolExecutor(max_workers=len(instances)) as pool:
        issued = list(pool.map(lambda instance: issue(stack, authority, instance), instances))
    assert [response.status_code for response in issued] == [201] * len(instances)
    assert [response.json()["roles"] for response in issued] == [[f"role-{i}"] for i in instances]
