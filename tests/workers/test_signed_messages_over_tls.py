"""Signed task messages over a Redis that speaks only TLS, together, as a hardened deployment runs them.

Each is tested on its own elsewhere (test_message_signing.py, test_redis_tls.py); here one stack runs with
both. Over TLS, the signer still refuses an unsigned message; the stack publishes a repository (worker and
signer tasks), issues shared keys (roles lookups answered through Redis) and verifies with them; the API
processes acknowledge changes on their change feeds; and a key is renewed (a job) and revoked.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from notary.jobs import JobState
from tests.api.test_shared_keys import configure_key_service, issue, signed, verify
from tests.api.tuf_helpers import publishes_and_reads
from tests.support.certificates import ThrowawayCA, redis_tls_files
from tests.support.instance_identity import InstanceIdentityAuthority
from tests.support.processes import NotaryStack, wait_until
from tests.support.servers import TlsRedisServer
from tests.workers.test_message_signing import (
    Identities,
    job_view,
    key_job,
    refused_by_signer,
    send_to_signer,
    unsigned,
)
from tests.workers.test_redis_tls import stack_over_tls
from workers.cache_invalidation import announce_changes

VERIFIER = "i-0000000000000000a"  # may verify (configure_key_service)
CLIENT = "i-0000000000000000b"


def api_processes_acknowledge_a_change(stack: NotaryStack) -> bool:
    """Some API process (each starts its feed with its first request) acknowledged a change it received."""
    with stack.redis() as client:
        return announce_changes(client, ["probe.example/feed"]) > 0


def test_a_signed_stack_over_tls_refuses_unsigned_messages_and_serves_everything(tmp_path: Path) -> None:
    with ExitStack() as cleanup:
        redis = TlsRedisServer.start(tmp_path / "redis", tls=redis_tls_files(tmp_path / "tls", ThrowawayCA()))
        cleanup.callback(redis.stop)
        stack = stack_over_tls(tmp_path, redis)
        cleanup.callback(stack.stop_all)
        identities = Identities.create(tmp_path / "pki")
        authority = InstanceIdentityAuthority()
        configure_key_service(stack, authority)
        for process in ("web", "worker", "signer"):
            stack.start(process, env=identities.env(process))

        database, job_id = key_job(stack, "unsigned.example/app")
        task_id = send_to_signer(stack, "signer.get_key", job_id, unsigned)
        wait_until(lambda: refused_by_signer(stack, job_id, task_id), 60, what="the signer to refuse it")
        job = job_view(database, job_id)
        database.dispose()
        assert (job.state, job.attempts) == (JobState.QUEUED, 0), "an unsigned message ran a task"

        with stack.client() as client:
            publishes_and_reads(client, "hardened.example/app")

        verifier = issue(stack, authority, VERIFIER)
        assert verifier.status_code == 201, verifier.text
        client_key = issue(stack, authority, CLIENT).json()
        assert client_key["roles"] == ["web"]

        def verdict() -> dict[str, object]:
            forwarded = signed(client_key, "GET", "http://svc.internal:8080/orders")
            answer = verify(stack, verifier.json(), forwarded, "GET", "/orders", "svc.internal:8080")
            assert answer.status_code == 200, answer.text
            return dict(answer.json())

        assert verdict()["valid"] is True
        wait_until(lambda: api_processes_acknowledge_a_change(stack), 30, what="a change feed")
        key_path = f"/v1/keys/{client_key['identity']}"
        with stack.client() as client:
            renew = key_path + "/renew"
            renewed = client.post(renew, headers=signed(client_key, "POST", stack.base_url + renew))
            assert renewed.status_code == 200, renewed.text
            revoked = client.delete(key_path, headers=signed(client_key, "DELETE", stack.base_url + key_path))
            assert revoked.status_code == 204
        assert verdict()["code"] == "UNKNOWN_KEY"
