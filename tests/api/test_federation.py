"""Datacenter federation and the replay cache through two real deployments on loopback: Notary A
(``dc-a``) issues keys, Notary B (``dc-b``) verifies them for its own servers by fetching them from A, with
a key it obtained from A with its own instance identity (A's Politician grants it notary:key-federation)."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from api.key_cache import change_name
from models.db import Database
from models.tables import SharedKey, SharedKeyAudit
from notary.keys.identity import new_identity, new_secret
from notary.sealing import seal, shared_key_aad
from tests.api.test_shared_keys import issue, signed, verify
from tests.support.instance_identity import InstanceIdentityAuthority
from tests.support.processes import NotaryStack, new_kek
from tests.support.receiver import Receiver
from tests.support.servers import RedisServer
from workers.cache_invalidation import announce_change

B_INSTANCE = "i-00000000000000b0b"  # Notary B's own EC2 instance
OTHER_NOTARY = "i-00000000000000c0c"  # another Notary A grants notary:key-federation to
A_VERIFIER = "i-0000000000000a001"  # a server in dc-a that verifies through A
B_VERIFIER = "i-0000000000000b001"  # a server in dc-b that verifies through B
SERVICE = ("GET", "http://svc.internal:8080/orders?id=7", "/orders?id=7", "svc.internal:8080")


class Deployment:
    """One datacenter's Notary: its own Redis, SQLite database, web and worker processes."""

    def __init__(self, root: Path, dc: str, authority: InstanceIdentityAuthority, **sections: Any) -> None:
        self.redis = RedisServer.start(root / "redis")
        self.stack = NotaryStack(root / "notary", self.redis.url, f"sqlite:///{root}/notary.db")
        pinned = root / "pinned.pem"
        pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
        self.keys_kek = new_kek()
        keys = {"dc": dc, "keks": [self.keys_kek], "pinned_certificates": [str(pinned)], "ttl": 600}
        # One API process, so that the in-memory caches a test fills are the ones its next request meets.
        self.stack.write_config(
            **{**sections, "keys": {**keys, **sections.get("keys", {})}, "server": {"workers": 1}}
        )
        self.stack.start("web")
        self.stack.start("worker")

    def stop(self) -> None:
        self.stack.stop_all()
        self.redis.stop()

    def audit(self, event: str) -> list[SharedKeyAudit]:
        database = Database(self.stack.db_url)
        with database.read() as session:
            found = list(session.scalars(select(SharedKeyAudit).where(SharedKeyAudit.event == event)))
        database.dispose()
        return found


@pytest.fixture(scope="module")
def authority() -> InstanceIdentityAuthority:
    return InstanceIdentityAuthority()


@pytest.fixture(scope="module")
def unreachable_peers() -> Iterator[dict[str, str]]:
    """A closed port, a peer that accepts connections and never answers, and one that answers 500."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)  # the kernel completes the handshakes; nobody ever reads
    broken = Receiver(statuses=[500])
    yield {
        "dc-down": f"http://127.0.0.1:{closed.getsockname()[1]}",
        "dc-hung": f"http://127.0.0.1:{hung.getsockname()[1]}",
        "dc-broken": broken.url,
    }
    closed.close()
    hung.close()
    broken.close()


@pytest.fixture(scope="module")
def dc_a(
    tmp_path_factory: pytest.TempPathFactory, authority: InstanceIdentityAuthority
) -> Iterator[Deployment]:
    bindings = [
        {"match": {"instance": B_INSTANCE}, "roles": ["notary:key-federation"]},
        {"match": {"instance": OTHER_NOTARY}, "roles": ["notary:key-federation"]},
        {"match": {"instance": A_VERIFIER}, "roles": ["notary:verify"]},
        {"match": {"image": "ami-*"}, "roles": ["web"]},
    ]
    deployment = Deployment(
        tmp_path_factory.mktemp("dc-a"),
        "dc-a",
        authority,
        keys={"replay_cache": True},
        politician={"bindings": bindings},
    )
    yield deployment
    deployment.stop()


@pytest.fixture(scope="module")
def dc_b(
    tmp_path_factory: pytest.TempPathFactory,
    authority: InstanceIdentityAuthority,
    dc_a: Deployment,
    unreachable_peers: dict[str, str],
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("dc-b")
    document = authority.document(B_INSTANCE, datetime(2026, 1, 1, tzinfo=UTC))
    (root / "identity.json").write_bytes(document)
    (root / "identity.pkcs7").write_text(authority.pkcs7(document))
    deployment = Deployment(
        root,
        "dc-b",
        authority,
        keys={
            "peers": {"dc-a": dc_a.stack.base_url, **unreachable_peers},
            "federation": {
                "document_file": str(root / "identity.json"),
                "signature_file": str(root / "identity.pkcs7"),
                "nonce": "dc-b-federation-nonce",
                "timeout": 2,
            },
        },
        politician={"bindings": [{"match": {"instance": B_VERIFIER}, "roles": ["notary:verify"]}]},
    )
    yield deployment
    deployment.stop()


def new_key(deployment: Deployment, authority: InstanceIdentityAuthority, instance: str) -> dict[str, Any]:
    response = issue(deployment.stack, authority, instance, nonce=f"nonce-{instance}")
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


@pytest.fixture(scope="module")
def verifier_at_b(dc_b: Deployment, authority: InstanceIdentityAuthority) -> dict[str, Any]:
    return new_key(dc_b, authority, B_VERIFIER)


@pytest.fixture(scope="module")
def verifier_at_a(dc_a: Deployment, authority: InstanceIdentityAuthority) -> dict[str, Any]:
    return new_key(dc_a, authority, A_VERIFIER)


def verify_service_call(
    deployment: Deployment, caller: dict[str, Any], client_key: dict[str, Any]
) -> httpx.Response:
    method, url, uri, host = SERVICE
    return verify(deployment.stack, caller, signed(client_key, method, url), method, uri, host)


def verify_batch(
    deployment: Deployment, caller: dict[str, Any], forwarded: list[dict[str, str]]
) -> list[Any]:
    method, _, uri, host = SERVICE
    items = [
        {
            "authorization": headers["Authorization"],
            "method": method,
            "uri": uri,
            "host": host,
            "date": headers["Date"],
            "digest": headers["Digest"],
        }
        for headers in forwarded
    ]
    payload = json.dumps({"requests": items}).encode()
    url = deployment.stack.base_url + "/v1/verify/batch"
    response = httpx.post(
        url,
        content=payload,
        headers={**signed(caller, "POST", url, payload), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    results: list[Any] = response.json()["results"]
    return results


def forged_key(dc: str) -> dict[str, str]:
    """A well-formed identity of datacenter ``dc`` with a secret nobody issued."""
    return {"identity": new_identity(dc).encode(), "secret": new_secret()}


def with_wrong_secret(forwarded: dict[str, str], key: dict[str, Any]) -> dict[str, str]:
    """``forwarded`` signed by someone who knows ``key``'s identity but not its secret."""
    forged = signed({"identity": key["identity"], "secret": new_secret()}, SERVICE[0], SERVICE[1])
    return {**forwarded, "Authorization": forged["Authorization"]}


def logins_of_b(a: Deployment) -> list[str]:
    """The keys A issued to Notary B's instance."""
    return [entry.identity for entry in a.audit("issued") if B_INSTANCE in entry.detail]


def served_key(deployment: Deployment, caller: dict[str, Any] | None, identity: str) -> httpx.Response:
    url = deployment.stack.base_url + f"/v1/federation/keys/{identity}"
    return httpx.get(url, headers=signed(caller, "GET", url) if caller else {})


def test_a_key_issued_in_a_verifies_through_b(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    client_key = new_key(dc_a, authority, "i-0000000000000a101")

    first = verify_service_call(dc_b, verifier_at_b, client_key)
    logins = logins_of_b(dc_a)
    assert first.status_code == 200, first.text
    verdict = first.json()
    assert verdict["valid"] is True
    assert verdict["identity"] == client_key["identity"]
    assert verdict["roles"] == ["web"]  # the roles A's Politician granted
    assert verdict["expires_at"] == client_key["expires_at"]
    assert 0 < verdict["ttl"] <= 600

    forwarded = signed(client_key, SERVICE[0], SERVICE[1])
    again, forged = verify_batch(dc_b, verifier_at_b, [forwarded, with_wrong_secret(forwarded, client_key)])
    assert again["valid"] is True
    assert forged == {"valid": False, "code": "INVALID_SIGNATURE", "message": forged["message"]}
    served = [entry.identity for entry in dc_a.audit("served_to_peer")]
    assert served.count(client_key["identity"]) == 1, "fetched once, then verified from B's cache"

    other_key = new_key(dc_a, authority, "i-0000000000000a102")
    assert verify_service_call(dc_b, verifier_at_b, other_key).json()["valid"] is True
    assert logins, "B logged in to A for its first fetch"
    assert logins_of_b(dc_a) == logins, "B keeps its key at A for the next fetches"
    logs = "".join(p.log_path.read_text() for d in (dc_a, dc_b) for p in d.stack.processes.values())
    assert client_key["secret"] not in logs
    assert "dc-b-federation-nonce" not in logs


def test_revoked_expired_and_unknown_keys_do_not_verify_through_b(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    revoked = new_key(dc_a, authority, "i-0000000000000a201")
    identity_url = dc_a.stack.base_url + f"/v1/keys/{revoked['identity']}"
    assert httpx.delete(identity_url, headers=signed(revoked, "DELETE", identity_url)).status_code == 204

    expired = new_key(dc_a, authority, "i-0000000000000a202")
    database = Database(dc_a.stack.db_url)
    with database.transaction() as session:
        row = session.get(SharedKey, expired["identity"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    database.dispose()

    for key in (revoked, expired, forged_key("dc-a")):
        verdict = verify_service_call(dc_b, verifier_at_b, key).json()
        assert verdict["valid"] is False
        assert verdict["code"] == "UNKNOWN_KEY"

    elsewhere = verify_service_call(dc_b, verifier_at_b, forged_key("dc-nowhere")).json()
    assert elsewhere["valid"] is False
    assert elsewhere["code"] == "UNKNOWN_DATACENTER"


def test_a_serves_keys_only_to_its_own_keys_with_the_federation_role(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    wanted = new_key(dc_a, authority, "i-0000000000000a301")
    plain = new_key(dc_a, authority, "i-0000000000000a302")  # roles: web only
    federating = new_key(dc_a, authority, OTHER_NOTARY)  # what a peer Notary gets from A

    unsigned = served_key(dc_a, None, wanted["identity"])
    assert (unsigned.status_code, unsigned.json()["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    without_role = served_key(dc_a, plain, wanted["identity"])
    assert (without_role.status_code, without_role.json()["errors"][0]["code"]) == (403, "FORBIDDEN")
    foreign_caller = served_key(dc_a, verifier_at_b, wanted["identity"])  # a key of B, unknown at A
    assert (foreign_caller.status_code, foreign_caller.json()["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    not_a_key_of_a = served_key(dc_a, federating, verifier_at_b["identity"])
    assert (not_a_key_of_a.status_code, not_a_key_of_a.json()["errors"][0]["code"]) == (404, "KEY_NOT_FOUND")

    granted = served_key(dc_a, federating, wanted["identity"])
    assert granted.status_code == 200, granted.text
    assert granted.headers["cache-control"] == "no-store"
    assert granted.json()["secrets"] == [wanted["secret"]]
    assert granted.json()["roles"] == ["web"]
    audited = [entry for entry in dc_a.audit("served_to_peer") if entry.identity == wanted["identity"]]
    assert [json.loads(entry.detail) for entry in audited] == [{"to": federating["identity"]}]
    assert wanted["secret"] not in "".join(entry.detail for entry in dc_a.audit("served_to_peer"))


def test_a_never_serves_a_key_named_for_another_datacenter(
    dc_a: Deployment, authority: InstanceIdentityAuthority
) -> None:
    """A key A holds whose identity names another dc (as after renaming keys.dc) stays A's own business."""
    federating = new_key(dc_a, authority, OTHER_NOTARY)
    former = forged_key("dc-former")
    kek_id, material = dc_a.keys_kek.split(":")
    keks = [(kek_id, base64.b64decode(material))]
    now = datetime.now(UTC)
    database = Database(dc_a.stack.db_url)
    with database.transaction() as session:
        template = session.get(SharedKey, federating["identity"])
        assert template is not None
        session.add(
            SharedKey(
                identity=former["identity"],
                dc="dc-former",
                account=template.account,
                region=template.region,
                image=template.image,
                instance_id="i-0000000000000f001",
                roles=json.dumps(["web"]),
                secret_sealed=seal(keks, former["secret"].encode(), shared_key_aad(former["identity"]))[1],
                kek_id=kek_id,
                ttl=600,
                created_at=now,
                expires_at=now + timedelta(seconds=600),
                max_expires_at=now + timedelta(seconds=1200),
            )
        )
    database.dispose()
    own_url = dc_a.stack.base_url + f"/v1/keys/{former['identity']}"
    assert httpx.get(own_url, headers=signed(former, "GET", own_url)).status_code == 200, "a usable key at A"

    refused = served_key(dc_a, federating, former["identity"])
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (404, "KEY_NOT_FOUND")


def test_concurrent_verifications_fetch_a_foreign_key_once(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    client_key = new_key(dc_a, authority, "i-0000000000000a701")
    with ThreadPoolExecutor(16) as pool:
        verdicts = list(
            pool.map(lambda _: verify_service_call(dc_b, verifier_at_b, client_key).json(), range(16))
        )
    assert all(verdict["valid"] for verdict in verdicts), verdicts
    served = [entry.identity for entry in dc_a.audit("served_to_peer")]
    assert served.count(client_key["identity"]) == 1


def test_b_logs_in_again_when_a_no_longer_accepts_its_key(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    logged_in = verify_service_call(dc_b, verifier_at_b, new_key(dc_a, authority, "i-0000000000000a401"))
    assert logged_in.json()["valid"] is True
    logins = logins_of_b(dc_a)
    database = Database(dc_a.stack.db_url)
    with database.transaction() as session:  # revoke B's keys at A, and make A forget them as DELETE does
        for identity in logins:
            row = session.get(SharedKey, identity)
            assert row is not None
            row.revoked_at = datetime.now(UTC)
    database.dispose()
    with dc_a.stack.redis() as client:
        for identity in logins:
            announce_change(client, change_name(identity))

    verdict = verify_service_call(dc_b, verifier_at_b, new_key(dc_a, authority, "i-0000000000000a402")).json()
    assert verdict["valid"] is True
    assert len(logins_of_b(dc_a)) == len(logins) + 1


def test_unreachable_peers_never_give_a_verdict(dc_b: Deployment, verifier_at_b: dict[str, Any]) -> None:
    peers = ("dc-down", "dc-hung", "dc-broken")
    for dc in peers:
        single = verify_service_call(dc_b, verifier_at_b, forged_key(dc))
        assert single.status_code == 503, single.text
        assert single.json()["errors"][0]["code"] == "FEDERATION_UNAVAILABLE"
    method, url, _, _ = SERVICE
    results = verify_batch(dc_b, verifier_at_b, [signed(forged_key(dc), method, url) for dc in peers])
    assert [result["code"] for result in results] == ["FEDERATION_UNAVAILABLE"] * 3
    assert not any(result["valid"] for result in results)


def test_replay_cache(
    dc_a: Deployment,
    dc_b: Deployment,
    authority: InstanceIdentityAuthority,
    verifier_at_a: dict[str, Any],
    verifier_at_b: dict[str, Any],
) -> None:
    client_key = new_key(dc_a, authority, "i-0000000000000a501")
    method, url, uri, host = SERVICE
    forwarded = signed(client_key, method, url)
    wrong = with_wrong_secret(forwarded, client_key)

    # A has keys.replay_cache on: a genuine signature is accepted once; a wrong one does not take its place.
    refused = verify(dc_a.stack, verifier_at_a, wrong, method, uri, host).json()
    assert refused["code"] == "INVALID_SIGNATURE"
    with dc_a.stack.redis() as client:
        assert list(client.scan_iter("notary:replay:*")) == [], "only verified signatures are remembered"
    first = verify(dc_a.stack, verifier_at_a, forwarded, method, uri, host).json()
    assert first["valid"] is True
    replayed = verify(dc_a.stack, verifier_at_a, forwarded, method, uri, host).json()
    assert replayed == {"valid": False, "code": "REPLAYED_SIGNATURE", "message": replayed["message"]}
    fresh = signed(client_key, method, url)
    assert [r.get("code") for r in verify_batch(dc_a, verifier_at_a, [fresh, fresh])] == [
        None,
        "REPLAYED_SIGNATURE",
    ]
    with dc_a.stack.redis() as client:
        remembered = [client.pttl(name) for name in client.scan_iter("notary:replay:*")]
    assert len(remembered) == 2
    assert all(0 < ttl <= (300 + 1) * 1000 for ttl in remembered), "forgotten once the skew refuses it anyway"

    # B has it off: the same signature verifies every time.
    for _ in range(2):
        assert verify(dc_b.stack, verifier_at_b, forwarded, method, uri, host).json()["valid"] is True


def test_b_verifies_cached_keys_while_a_is_down(
    dc_a: Deployment, dc_b: Deployment, authority: InstanceIdentityAuthority, verifier_at_b: dict[str, Any]
) -> None:
    cached = new_key(dc_a, authority, "i-0000000000000a601")
    never_fetched = new_key(dc_a, authority, "i-0000000000000a602")
    assert verify_service_call(dc_b, verifier_at_b, cached).json()["valid"] is True

    dc_a.stack.processes["web"].stop()
    try:
        still = verify_service_call(dc_b, verifier_at_b, cached).json()
        assert still["valid"] is True
        assert still["roles"] == ["web"]
        unavailable = verify_service_call(dc_b, verifier_at_b, never_fetched)
        assert unavailable.status_code == 503
        assert unavailable.json()["errors"][0]["code"] == "FEDERATION_UNAVAILABLE"
        method, url, _, _ = SERVICE
        both = verify_batch(
            dc_b, verifier_at_b, [signed(cached, method, url), signed(never_fetched, method, url)]
        )
        assert both[0]["valid"] is True
        assert both[1] == {"valid": False, "code": "FEDERATION_UNAVAILABLE", "message": both[1]["message"]}
    finally:
        dc_a.stack.start("web")
