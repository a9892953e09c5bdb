"""Signed task messages over a Redis that speaks only TLS, together, as a hardened deployment runs them.

Each is tested on its own elsewhere (test_message_signing.py, test_redis_tls.py); here the whole stack runs
with both: publishing a repository (worker and signer tasks), issuing shared keys (roles lookups answered
through Redis), renewing one (a job), and revoking it, which every API process must have forgotten before the
revocation is answered (the change feed, over TLS too).
"""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization

from tests.api.test_shared_keys import issue, signed, verify
from tests.api.tuf_helpers import publishes_and_reads
from tests.support.certificates import ThrowawayCA, redis_tls_files
from tests.support.instance_identity import ACCOUNT, InstanceIdentityAuthority
from tests.support.processes import new_kek
from tests.support.servers import TlsRedisServer
from tests.workers.test_message_signing import Identities
from tests.workers.test_redis_tls import stack_over_tls

VERIFIER = "i-0000000000000000a"
CLIENT = "i-0000000000000000b"


def test_a_signed_stack_over_tls_publishes_issues_renews_and_revokes(tmp_path: Path) -> None:
    redis = TlsRedisServer.start(tmp_path / "redis", tls=redis_tls_files(tmp_path / "tls", ThrowawayCA()))
    identities = Identities.create(tmp_path / "pki")
    authority = InstanceIdentityAuthority()
    pinned = tmp_path / "pinned.pem"
    pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    stack = stack_over_tls(tmp_path, redis)
    stack.write_config(
        keys={"dc": "test-dc", "keks": [new_kek()], "pinned_certificates": [str(pinned)]},
        politician={
            "bindings": [
                {"match": {"instance": VERIFIER}, "roles": ["notary:verify"]},
                {"match": {"account": ACCOUNT}, "roles": ["web"]},
            ]
        },
    )
    try:
        for process in ("web", "worker", "signer"):
            stack.start(process, env=identities.env(process))
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
        key_url = stack.base_url + f"/v1/keys/{client_key['identity']}"
        renewed = httpx.post(key_url + "/renew", headers=signed(client_key, "POST", key_url + "/renew"))
        assert renewed.status_code == 200, renewed.text
        revoked = httpx.delete(key_url, headers=signed(client_key, "DELETE", key_url))
        assert revoked.status_code == 204
        assert verdict()["code"] == "UNKNOWN_KEY"
    finally:
        stack.stop_all()
        redis.stop()
