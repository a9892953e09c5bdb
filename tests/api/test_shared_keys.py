"""The shared-key service through the real processes: issue a key from a PKCS7-signed instance identity
(a test CA stands in for AWS), verify requests signed with it, renew, revoke, and sweep."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from models.db import Database
from models.tables import SharedKey, SharedKeyAudit
from notary.keys import signature
from tests.support.instance_identity import ACCOUNT, InstanceIdentityAuthority
from tests.support.processes import NotaryStack, new_kek, wait_until


@pytest.fixture(scope="module")
def authority() -> InstanceIdentityAuthority:
    return InstanceIdentityAuthority()


@pytest.fixture
def key_stack(stack: NotaryStack, authority: InstanceIdentityAuthority) -> NotaryStack:
    return start_key_service(stack, authority)


def start_key_service(stack: NotaryStack, authority: InstanceIdentityAuthority, **config: Any) -> NotaryStack:
    """Start ``stack`` as a shared-key service trusting ``authority``, plus any other ``config`` sections."""
    configure_key_service(stack, authority, **config)
    stack.start_all()
    return stack


def configure_key_service(stack: NotaryStack, authority: InstanceIdentityAuthority, **config: Any) -> None:
    """Configure ``stack`` as a shared-key service trusting ``authority``: instance ``i-0000000000000000a``
    may verify, and every instance of an ``ami-*`` image has role ``web``."""
    pinned = stack.root / "pinned.pem"
    pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    stack.write_config(
        keys={
            "dc": "test-dc",
            "keks": [new_kek()],
            "pinned_certificates": [str(pinned)],
            "ttl": 600,
            "max_ttl": 1200,
        },
        politician={
            "bindings": [
                {
                    "match": {"account": ACCOUNT, "instance": "i-0000000000000000a"},
                    "roles": ["notary:verify", "verifier"],
                },
                {"match": {"image": "ami-*"}, "roles": ["web"]},
            ]
        },
        **config,
    )


def issue(
    stack: NotaryStack, authority: InstanceIdentityAuthority, instance: str, **extra: Any
) -> httpx.Response:
    document = authority.document(instance, extra.pop("pending", datetime(2026, 1, 1, tzinfo=UTC)))
    body = {"document": document.decode(), "signature": authority.pkcs7(document), **extra}
    with stack.client() as client:
        return client.post("/v1/keys", json=body)


def signed(key: dict[str, Any], method: str, url: str, body: bytes = b"") -> dict[str, str]:
    target = httpx.URL(url)
    headers = signature.sign_request(
        method,
        target.raw_path.decode(),
        f"{target.host}:{target.port}",
        body,
        key["identity"],
        key["secret"],
        int(time.time() * 1000),
    )
    return headers


def verify(
    stack: NotaryStack, caller: dict[str, Any], forwarded: dict[str, str], method: str, uri: str, host: str
) -> httpx.Response:
    payload = json.dumps(
        {
            "authorization": forwarded["Authorization"],
            "method": method,
            "uri": uri,
            "host": host,
            "date": forwarded["Date"],
            "digest": forwarded["Digest"],
        }
    ).encode()
    url = stack.base_url + "/v1/verify"
    headers = signed(caller, "POST", url, payload)
    return httpx.post(url, content=payload, headers={**headers, "Content-Type": "application/json"})


def test_issue_verify_renew_revoke(key_stack: NotaryStack, authority: InstanceIdentityAuthority) -> None:
    verifier = issue(key_stack, authority, "i-0000000000000000a", nonce="verifier-nonce")
    assert verifier.status_code == 201, verifier.text
    verifier_key = verifier.json()
    assert sorted(verifier_key["roles"]) == ["notary:verify", "verifier", "web"]
    client_key = issue(key_stack, authority, "i-0000000000000000b").json()
    assert client_key["roles"] == ["web"]
    assert len(client_key["secret"]) == 64
    assert "nonce" in client_key
    assert base64.b64decode(client_key["identity"]).decode().startswith("v=1:test-dc:t-")

    forwarded = signed(client_key, "GET", "http://svc.internal:8080/orders?id=7")
    answer = verify(key_stack, verifier_key, forwarded, "GET", "/orders?id=7", "svc.internal:8080")
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"] is True
    assert answer.json()["roles"] == ["web"]
    assert 0 < answer.json()["ttl"] <= 600

    tampered = verify(key_stack, verifier_key, forwarded, "GET", "/orders?id=8", "svc.internal:8080").json()
    assert tampered == {"valid": False, "code": "INVALID_SIGNATURE", "message": tampered["message"]}

    not_a_verifier = verify(key_stack, client_key, forwarded, "GET", "/orders?id=7", "svc.internal:8080")
    assert not_a_verifier.status_code == 403

    identity_url = key_stack.base_url + f"/v1/keys/{client_key['identity']}"
    renewed = httpx.post(identity_url + "/renew", headers=signed(client_key, "POST", identity_url + "/renew"))
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["roles"] == ["web"]
    metadata = httpx.get(identity_url, headers=signed(client_key, "GET", identity_url)).json()
    assert "secret" not in json.dumps(metadata)
    assert metadata["instance"] == "i-0000000000000000b"

    revoked = httpx.delete(identity_url, headers=signed(client_key, "DELETE", identity_url))
    assert revoked.status_code == 204
    after = verify(
        key_stack,
        verifier_key,
        signed(client_key, "GET", "http://svc.internal:8080/orders?id=7"),
        "GET",
        "/orders?id=7",
        "svc.internal:8080",
    )
    assert after.json()["valid"] is False
    assert after.json()["code"] == "UNKNOWN_KEY"

    database = Database(key_stack.db_url)
    with database.read() as session:
        events = [a.event for a in session.scalars(select(SharedKeyAudit).order_by(SharedKeyAudit.id))]
        rows = session.scalars(select(SharedKey)).all()
    database.dispose()
    assert events == ["issued", "issued", "renewed", "revoked"]
    for row in rows:  # secrets are stored sealed only
        assert verifier_key["secret"].encode() not in row.secret_sealed
        assert client_key["secret"].encode() not in row.secret_sealed
    logs = "".join(p.log_path.read_text() for p in key_stack.processes.values())
    assert verifier_key["secret"] not in logs
    assert client_key["secret"] not in logs


def test_replay_protection_and_refusals(key_stack: NotaryStack, authority: InstanceIdentityAuthority) -> None:
    first = issue(
        key_stack, authority, "i-0000000000000000c", nonce="n-1", pending=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert first.status_code == 201
    wrong_nonce = issue(
        key_stack, authority, "i-0000000000000000c", nonce="n-2", pending=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert wrong_nonce.json()["errors"][0]["code"] == "NONCE_MISMATCH"
    older = issue(
        key_stack, authority, "i-0000000000000000c", nonce="n-1", pending=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert older.json()["errors"][0]["code"] == "NONCE_MISMATCH"
    again = issue(
        key_stack, authority, "i-0000000000000000c", nonce="n-1", pending=datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert again.status_code == 201

    forger = InstanceIdentityAuthority()  # a certificate that is not pinned
    document = forger.document("i-0000000000000000d", datetime(2026, 1, 1, tzinfo=UTC))
    with key_stack.client() as client:
        forged = client.post(
            "/v1/keys", json={"document": document.decode(), "signature": forger.pkcs7(document)}
        )
        garbage = client.post("/v1/keys", content=b"{not json", headers={"Content-Type": "application/json"})
    assert forged.status_code == 401
    assert forged.json()["errors"][0]["code"] == "INVALID_SIGNATURE"
    assert garbage.status_code == 400


def test_async_issuance_shows_the_secret_once(
    key_stack: NotaryStack, authority: InstanceIdentityAuthority
) -> None:
    document = authority.document("i-0000000000000000e", datetime(2026, 1, 1, tzinfo=UTC))
    with key_stack.client() as client:
        accepted = client.post(
            "/v1/keys", json={"pkcs7": authority.pkcs7(document)}, headers={"Prefer": "respond-async"}
        )
        assert accepted.status_code == 202
        location = accepted.headers["location"]
        assert "secret" not in accepted.text
        token = accepted.json()["reveal_token"]
        anonymous = wait_until(lambda: (j := client.get(location).json())["state"] == "succeeded" and j, 60)
        first = client.get(location, headers={"X-Reveal-Token": token}).json()
        second = client.get(location, headers={"X-Reveal-Token": token}).json()
    assert anonymous["result"]["secret"] == "<redacted>", "knowing the job id is not enough"
    assert len(first["result"]["secret"]) == 64
    assert second["result"]["secret"] == "<redacted>"


def test_sweep_deletes_expired_keys(key_stack: NotaryStack, authority: InstanceIdentityAuthority) -> None:
    key = issue(key_stack, authority, "i-0000000000000000f").json()
    database = Database(key_stack.db_url)
    with database.transaction() as session:
        row = session.get(SharedKey, key["identity"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(hours=1)
    key_stack.celery().send_task("keys.sweep")

    def gone() -> bool:
        with database.read() as session:
            return session.get(SharedKey, key["identity"]) is None

    wait_until(gone, 60, what="the sweep")
    database.dispose()
    worker_log = key_stack.processes["worker"].log_path.read_text()
    assert '"msg": "swept expired keys"' in worker_log


def test_client_sdk_against_the_real_service(
    key_stack: NotaryStack, authority: InstanceIdentityAuthority
) -> None:
    """A service protected by the SDK's WSGI middleware, called with the SDK's requests auth: the middleware
    verifies every call through this Notary's /v1/verify with its own key."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    import requests

    from notary.client.auth import NotaryRequestsAuth
    from notary.client.middleware import VerifyingMiddleware

    service_key = issue(key_stack, authority, "i-0000000000000000a", nonce="verifier-nonce").json()
    caller_key = issue(key_stack, authority, "i-00000000000000010").json()
    seen: list[tuple[str, tuple[str, ...], bytes]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        seen.append((environ["notary.identity"], tuple(environ["notary.roles"]), body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

    protected = VerifyingMiddleware(
        app,
        key_stack.base_url,
        caller_auth=NotaryRequestsAuth(service_key["identity"], service_key["secret"]),
    )
    server = make_server("127.0.0.1", 0, protected, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/orders?id=7"
    try:
        good = requests.post(
            url,
            data=b'{"qty": 1}',
            timeout=30,
            auth=NotaryRequestsAuth(caller_key["identity"], caller_key["secret"]),
        )
        forged = requests.post(
            url, data=b'{"qty": 1}', timeout=30, auth=NotaryRequestsAuth(caller_key["identity"], "x" * 64)
        )
    finally:
        server.shutdown()
    assert good.status_code == 200, good.text
    assert seen == [(caller_key["identity"], ("web",), b'{"qty": 1}')]
    assert forged.status_code == 401


def test_deeply_nested_json_is_a_bad_request(key_stack: NotaryStack) -> None:
    with key_stack.client() as client:
        response = client.post(
            "/v1/keys", content=b"[" * 100_000, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_REQUEST"


def test_a_verify_caller_is_authenticated_before_its_body_is_read(
    key_stack: NotaryStack, authority: InstanceIdentityAuthority
) -> None:
    verifier = issue(key_stack, authority, "i-0000000000000000a", nonce="verifier-nonce").json()
    url = key_stack.base_url + "/v1/verify/batch"
    oversized = b"[" + b" " * (9 * 1024 * 1024) + b"]"  # past the batch limit
    forged = {**verifier, "secret": base64.b64encode(b"not the secret").decode()}

    def post(key: dict[str, Any], signed_body: bytes, sent_body: bytes) -> httpx.Response:
        headers = signed(key, "POST", url, signed_body)
        return httpx.post(url, content=sent_body, headers={**headers, "Content-Type": "application/json"})

    refused = post(forged, oversized, oversized)
    assert refused.status_code == 401, refused.text  # not 413: nothing was read for a stranger
    assert refused.json()["errors"][0]["detail"]["code"] == "INVALID_SIGNATURE"

    assert post(verifier, oversized, oversized).status_code == 413
    swapped = post(verifier, b'{"requests": []}', b'{"requests": [{}]}')
    assert swapped.status_code == 401
    assert swapped.json()["errors"][0]["detail"]["code"] == "DIGEST_MISMATCH"
    assert post(verifier, b"{not json", b"{not json").status_code == 400
    empty = post(verifier, b'{"requests": []}', b'{"requests": []}')
    assert (empty.status_code, empty.json()) == (200, {"results": []})


def test_an_operator_clears_an_instances_access_list_entry(
    key_stack: NotaryStack, authority: InstanceIdentityAuthority
) -> None:
    instance, pending = "i-0000000000000000e", datetime(2026, 1, 2, tzinfo=UTC)
    assert issue(key_stack, authority, instance, nonce="lost", pending=pending).status_code == 201
    assert issue(key_stack, authority, instance, nonce="new", pending=pending).status_code == 403
    with key_stack.client() as client:
        entry = client.get(f"/v1/access-list/{instance}")
        assert entry.status_code == 200, entry.text
        assert entry.json()["instance_id"] == instance
        assert entry.json()["pending_time"] == "2026-01-02T00:00:00Z"
        assert "nonce" not in json.dumps(entry.json())
        assert client.delete(f"/v1/access-list/{instance}").status_code == 204
        assert (
            client.get(f"/v1/access-list/{instance}").json()["errors"][0]["code"] == "ACCESS_ENTRY_NOT_FOUND"
        )
        assert client.delete(f"/v1/access-list/{instance}").status_code == 404
    assert issue(key_stack, authority, instance, nonce="new", pending=pending).status_code == 201
