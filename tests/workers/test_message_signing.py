"""Celery message signing between the API, the worker and the signer, through the real processes.

Each process has its own certificate (given through its environment, as a deployment would); the signer
trusts only the API's and the worker's. A signed stack publishes and reads; a message that is unsigned, or
signed by a certificate outside the signer's store, or forged under a trusted certificate's name, runs no
task, leaves its job where it was, and does not stop the signer. A CA certificate stops every process at
start-up.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery.security.certificate import Certificate
from celery.security.key import PrivateKey
from celery.security.serialization import SecureSerializer
from kombu.serialization import dumps

from models import jobs as job_records
from models.db import Database
from notary.jobs import JobState
from tests.api.test_startup_config import one_error_line, run
from tests.api.tuf_helpers import publishes_and_reads
from tests.support.certificates import Issued, ThrowawayCA
from tests.support.processes import NotaryStack, wait_until
from tests.support.servers import RedisServer

CA = ThrowawayCA()
# Who trusts whom: the signer accepts only what the API and the worker send.
TRUSTS = {
    "web": ("web", "worker", "signer"),
    "worker": ("web", "worker", "signer", "beat"),
    "signer": ("web", "worker"),
    "beat": ("web", "worker", "signer", "beat"),
}


@dataclass
class Identities:
    folder: Path
    issued: dict[str, Issued]

    @classmethod
    def create(cls, folder: Path) -> Identities:
        identities = cls(folder, {name: CA.issue(f"notary {name}") for name in TRUSTS})
        for name, trusted in TRUSTS.items():
            identities.issued[name].write(folder, name)
            store = folder / f"{name}-trusts"
            store.mkdir()
            for peer in trusted:
                (store / f"{peer}.crt").write_bytes(identities.issued[peer].cert_pem)
        return identities

    def env(self, process: str) -> dict[str, str]:
        return {
            "NOTARY_SERVER_SECURITY_KEY_FILE": str(self.folder / f"{process}.key"),
            "NOTARY_SERVER_SECURITY_CERT_FILE": str(self.folder / f"{process}.crt"),
            "NOTARY_SERVER_SECURITY_CERT_STORE": str(self.folder / f"{process}-trusts"),
        }


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NotaryStack, Identities]]:
    root = tmp_path_factory.mktemp("signed")
    identities = Identities.create(root / "pki")
    redis = RedisServer.start(root / "redis")
    stack = NotaryStack(root / "notary", redis.url, f"sqlite:///{root}/notary.db")
    try:
        for process in ("web", "worker", "signer"):
            stack.start(process, env=identities.env(process))
        yield stack, identities
    finally:
        stack.stop_all()
        redis.stop()


def test_a_signed_stack_publishes_and_reads(signed: tuple[NotaryStack, Identities]) -> None:
    stack, _ = signed
    with stack.client() as client:
        publishes_and_reads(client, "signed.example/app")


def test_beat_sends_signed_tasks_the_worker_runs(signed: tuple[NotaryStack, Identities]) -> None:
    stack, identities = signed
    stack.start("beat", env=identities.env("beat"))
    worker_log = stack.processes["worker"].log_path
    # webhooks.retry_due is beat's most frequent entry (every 15 s)
    wait_until(
        lambda: re.search(r"Task webhooks\.retry_due\[[^]]+\] succeeded", worker_log.read_text()),
        60,
        what="the worker to run a task beat sent",
    )
    stack.processes["beat"].stop()


# A task message's body, encoded for the wire: (content type, content encoding, payload).
Encoder = Callable[[object], tuple[str, str, bytes | str]]


def unsigned(body: object) -> tuple[str, str, bytes | str]:
    content_type, encoding, payload = dumps(body, serializer="json")
    return content_type, encoding, payload


def signed_by(key_of: Issued, certificate_of: Issued) -> Encoder:
    """Celery's own signed encoding: signed with ``key_of``'s key, naming ``certificate_of``'s certificate."""
    serializer = SecureSerializer(
        PrivateKey(key_of.key_pem), Certificate(certificate_of.cert_pem), None, "sha256", "json"
    )
    return lambda body: ("application/data", "utf-8", serializer.serialize(body))


def send_to_signer(stack: NotaryStack, task: str, job_id: str, encode: Encoder) -> str:
    """Publish a protocol-2 task message straight onto the signer queue, as anyone with broker access
    could; returns the task id."""
    app = stack.celery()
    task_id = uuid.uuid4().hex
    message = app.amqp.as_task_v2(task_id, task, args=[job_id], kwargs={})
    content_type, encoding, payload = encode(message.body)
    with app.producer_or_acquire() as producer:
        producer.publish(
            payload,
            exchange="",
            routing_key="signer",
            headers=message.headers,
            content_type=content_type,
            content_encoding=encoding,
            **message.properties,
        )
    return task_id


def handled(stack: NotaryStack) -> bool:
    """The signer queue is empty and no message is held unacknowledged: every message sent was handled."""
    with stack.redis() as client:
        return client.llen("signer") == 0 and client.hlen("unacked") == 0


def refused_by_signer(stack: NotaryStack, job_id: str, task_id: str) -> bool:
    """The signer logged the message as refused and acknowledged it. Celery logs a refused message by its
    body (unsigned) or its headers (signed)."""
    log = stack.processes["signer"].log_path.read_text()
    return (job_id in log or task_id in log) and handled(stack)


def key_job(stack: NotaryStack, gun: str) -> tuple[Database, str]:
    database = Database(stack.db_url)
    with database.transaction() as session:
        job_id = job_records.create_job(session, "signer.get_key", {"role": "timestamp"}, gun=gun).id
    return database, job_id


def job_view(database: Database, job_id: str) -> job_records.JobView:
    with database.read() as session:
        job = job_records.get_job(session, job_id)
        assert job is not None
        return job_records.view(job)


REJECTED = {
    "unsigned": lambda identities: unsigned,
    "signed by a stranger": lambda identities: signed_by(*[CA.issue("stranger")] * 2),
    "signed by beat, not trusted by the signer": lambda identities: signed_by(
        *[identities.issued["beat"]] * 2
    ),
    "forged under the API's certificate": lambda identities: signed_by(
        CA.issue("forger"), identities.issued["web"]
    ),
}


@pytest.mark.parametrize("sender", list(REJECTED))
def test_the_signer_runs_no_task_from_an_untrusted_message(
    signed: tuple[NotaryStack, Identities], sender: str
) -> None:
    stack, identities = signed
    database, job_id = key_job(stack, f"rejected.example/{sender.replace(' ', '-')}")
    task_id = send_to_signer(stack, "signer.get_key", job_id, REJECTED[sender](identities))
    wait_until(lambda: refused_by_signer(stack, job_id, task_id), 60, what="the signer to refuse the message")

    job = job_view(database, job_id)
    assert (job.state, job.attempts) == (JobState.QUEUED, 0), "a task ran"
    assert stack.processes["signer"].running()
    # The same job, sent by a process the signer trusts, runs: the signer still works, and the refusal
    # above was the signature's doing, not the message's shape.
    send_to_signer(stack, "signer.get_key", job_id, signed_by(*[identities.issued["web"]] * 2))
    finished = wait_until(lambda: (j := job_view(database, job_id)).state.terminal and j, 60, what="the job")
    database.dispose()
    assert finished.state is JobState.SUCCEEDED
    assert finished.result["role"] == "timestamp"


@pytest.mark.parametrize("command", ["notary-server", "notary-worker", "notary-beat", "notary-signer"])
def test_every_process_refuses_a_ca_certificate_at_start(stack: NotaryStack, command: str) -> None:
    folder = stack.root / "pki"
    own = CA.issue("a CA by mistake", ca=True).write(folder, "own")
    (folder / "trusted.crt").write_bytes(CA.issue("peer").cert_pem)
    stack.write_config(
        security={
            "key_file": str(own.key),
            "cert_file": str(own.cert),
            "cert_store": str(folder / "trusted.crt"),
        }
    )
    env = stack.env({"NOTARY_SERVER_SIGNER_KEKS": stack.kek} if command == "notary-signer" else {})

    line = one_error_line(run(command, "-config", str(stack.config_path), env=env))
    assert "security.cert_file" in line
    assert str(stack.config_path) in line
    assert "is a CA" in line
