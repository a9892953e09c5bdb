"""Token auth through a real notary-server (auth.type "token"): notary's exact 401s, the scopes of /v2,
and the /v1 uses of tokens (jobs, admin revocation, token-authenticated verify callers)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.api.test_shared_keys import issue, signed
from tests.support.instance_identity import ACCOUNT, InstanceIdentityAuthority
from tests.support.processes import BIN, NotaryStack, new_kek, wait_until
from tests.support.servers import RedisServer
from tests.support.token_issuer import ISSUER, SERVICE, TokenIssuer

GUN = "example.com/app"
T = f"/v2/{GUN}/_trust/tuf"
REALM = "https://auth.example.com/token"
VERIFIER_INSTANCE = "i-0000000000000000a"


def auth_config(bundle: Path, **options: Any) -> dict[str, Any]:
    return {
        "type": "token",
        "options": {
            "realm": REALM,
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(bundle),
            **options,
        },
    }


@pytest.fixture(scope="module")
def issuer() -> TokenIssuer:
    return TokenIssuer()


@pytest.fixture(scope="module")
def authority() -> InstanceIdentityAuthority:
    return InstanceIdentityAuthority()


@pytest.fixture(scope="module")
def token_stack(
    tmp_path_factory: pytest.TempPathFactory, issuer: TokenIssuer, authority: InstanceIdentityAuthority
) -> Iterator[NotaryStack]:
    """One deployment for the module: token auth, and the shared-key service for the /v1 tests."""
    root = tmp_path_factory.mktemp("token-auth")
    redis = RedisServer.start(root / "redis")
    stack = NotaryStack(root / "notary", redis.url, f"sqlite:///{root}/notary.db")
    bundle = stack.root / "bundle.pem"
    bundle.write_bytes(issuer.bundle_pem())
    pinned = stack.root / "pinned.pem"
    pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    stack.write_config(
        auth=auth_config(bundle),
        keys={"keks": [new_kek()], "pinned_certificates": [str(pinned)]},
        politician={
            "bindings": [
                {"match": {"account": ACCOUNT, "instance": VERIFIER_INSTANCE}, "roles": ["notary:verify"]}
            ]
        },
    )
    stack.start_all()
    yield stack
    stack.stop_all()
    redis.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def challenge_of(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    return response.headers["www-authenticate"]


# --- /v2: notary's exact 401s


def test_missing_token(token_stack: NotaryStack) -> None:
    response = httpx.get(f"{token_stack.base_url}{T}/root.json")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="{REALM}",service="{SERVICE}",scope="repository:{GUN}:pull"'
    )
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.content == (
        b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":'
        b'[{"Type":"repository","Class":"","Name":"example.com/app","Action":"pull"}]}]}\n'
    )


@pytest.mark.parametrize("kind", ["garbage", "foreign CA", "expired", "wrong audience", "basic"])
def test_invalid_token(token_stack: NotaryStack, issuer: TokenIssuer, kind: str) -> None:
    pull = f"repository:{GUN}:push,pull"
    authorization = {
        "garbage": "Bearer not.a.token",
        "foreign CA": "Bearer " + TokenIssuer().mint_scope(pull),
        "expired": "Bearer " + issuer.mint_scope(pull, exp=int(datetime.now(UTC).timestamp()) - 120),
        "wrong audience": "Bearer " + issuer.mint_scope(pull, aud=[SERVICE]),
        "basic": "Basic YWxpY2U6c2VjcmV0",
    }[kind]
    response = httpx.post(f"{token_stack.base_url}{T}/", headers={"Authorization": authorization})
    expected = f'Bearer realm="{REALM}",service="{SERVICE}",scope="repository:{GUN}:push,pull"'
    if kind != "basic":  # a request without a bearer token is missing one, not invalid
        expected += ',error="invalid_token"'
    assert challenge_of(response) == expected
    assert response.json()["errors"][0]["detail"] == [
        {"Type": "repository", "Class": "", "Name": GUN, "Action": "push"},
        {"Type": "repository", "Class": "", "Name": GUN, "Action": "pull"},
    ]


def test_insufficient_scope_is_401_too(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    other_gun = issuer.mint_scope("repository:example.com/other:*")
    response = httpx.get(f"{token_stack.base_url}{T}/timestamp.json", headers=bearer(other_gun))
    assert challenge_of(response) == (
        f'Bearer realm="{REALM}",service="{SERVICE}",scope="repository:{GUN}:pull",error="insufficient_scope"'
    )
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    push_pull = issuer.mint_scope(f"repository:{GUN}:push,pull")
    rotate = httpx.post(f"{token_stack.base_url}{T}/snapshot.key", headers=bearer(push_pull))
    assert challenge_of(rotate).endswith(f'scope="repository:{GUN}:*",error="insufficient_scope"')
    delete = httpx.delete(f"{token_stack.base_url}{T}/", headers=bearer(push_pull))
    assert challenge_of(delete).endswith(f'scope="repository:{GUN}:*",error="insufficient_scope"')


def test_a_good_token_reaches_the_handler(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    pull = bearer(issuer.mint_scope(f"repository:{GUN}:pull"))
    with token_stack.client() as client:
        missing = client.get(f"{T}/root.json", headers=pull)
        assert missing.status_code == 404, missing.text
        assert missing.json()["errors"][0]["code"] == "METADATA_NOT_FOUND"
        changes = client.get(f"/v2/{GUN}/_trust/changefeed", params={"records": 10}, headers=pull)
        assert changes.status_code == 200, changes.text
        everything = bearer(issuer.mint_scope(f"repository:{GUN}:*"))
        key = client.get(f"{T}/timestamp.key", headers=everything)
        assert key.status_code == 200, key.text
        assert json.loads(key.content)["keytype"] == "ecdsa"
        assert client.delete(f"{T}/", headers=everything).status_code == 200


def test_catalog_scope_for_the_ping_and_the_global_changefeed(
    token_stack: NotaryStack, issuer: TokenIssuer
) -> None:
    pull = bearer(issuer.mint_scope(f"repository:{GUN}:*"))
    catalog = bearer(issuer.mint_scope("registry:catalog:*"))
    with token_stack.client() as client:
        for path, params in (("/v2/", {}), ("/v2/_trust/changefeed", {"records": 1})):
            assert challenge_of(client.get(path, params=params)) == (
                f'Bearer realm="{REALM}",service="{SERVICE}",scope="registry:catalog:*"'
            )
            assert challenge_of(client.get(path, params=params, headers=pull)).endswith(
                ',scope="registry:catalog:*",error="insufficient_scope"'
            )
            assert client.get(path, params=params, headers=catalog).status_code == 200


def test_health_and_metrics_stay_open(token_stack: NotaryStack) -> None:
    with token_stack.client() as client:
        assert client.get("/_notary_server/health").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_path_cleaning_redirects_before_auth(token_stack: NotaryStack) -> None:
    response = httpx.get(f"{token_stack.base_url}/v2/{GUN}//_trust/tuf/root.json")
    assert response.status_code == 301


# --- /v1


def test_jobs_need_pull_on_their_gun(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    with token_stack.client() as client:
        accepted = client.get(
            f"{T}/snapshot.key",
            headers={"Prefer": "respond-async", **bearer(issuer.mint_scope(f"repository:{GUN}:push,pull"))},
        )
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        assert challenge_of(client.get(location)) == (
            f'Bearer realm="{REALM}",service="{SERVICE}",scope="repository:{GUN}:pull"'
        )
        other = bearer(issuer.mint_scope("repository:example.com/other:*"))
        assert challenge_of(client.get(location, headers=other)).endswith('error="insufficient_scope"')
        reader = bearer(issuer.mint_scope(f"repository:{GUN}:pull"))
        job = wait_until(
            lambda: (j := client.get(location, headers=reader).json())["state"] == "succeeded" and j
        )
    assert job["gun"] == GUN


def test_jobs_without_a_gun_need_the_admin_scope_or_the_reveal_token(
    token_stack: NotaryStack, authority: InstanceIdentityAuthority, issuer: TokenIssuer
) -> None:
    document = authority.document("i-0000000000000000b", datetime(2026, 1, 1, tzinfo=UTC))
    admin = bearer(issuer.mint_scope("notary:admin:*"))
    with token_stack.client() as client:
        accepted = client.post(
            "/v1/keys", json={"pkcs7": authority.pkcs7(document)}, headers={"Prefer": "respond-async"}
        )
        assert accepted.status_code == 202, accepted.text
        location, reveal_token = accepted.headers["location"], accepted.json()["reveal_token"]
        assert challenge_of(client.get(location)) == (
            f'Bearer realm="{REALM}",service="{SERVICE}",scope="notary:admin:*"'
        )
        pull = bearer(issuer.mint_scope(f"repository:{GUN}:*"))
        assert challenge_of(client.get(location, headers=pull)).endswith('error="insufficient_scope"')
        assert challenge_of(client.get(location, headers={"X-Reveal-Token": "wrong"})).startswith("Bearer ")
        job = wait_until(
            lambda: (j := client.get(location, headers=admin).json())["state"] == "succeeded" and j
        )
        assert job["result"]["secret"] == "<redacted>", "the admin reads the job, not the secret"
        revealed = client.get(location, headers={"X-Reveal-Token": reveal_token})
    assert revealed.status_code == 200
    assert len(revealed.json()["result"]["secret"]) == 64


def test_an_admin_token_revokes_any_key(
    token_stack: NotaryStack, authority: InstanceIdentityAuthority, issuer: TokenIssuer
) -> None:
    key = issue(token_stack, authority, "i-0000000000000000c").json()
    url = f"{token_stack.base_url}/v1/keys/{key['identity']}"
    not_admin = bearer(issuer.mint_scope(f"repository:{GUN}:*"))
    assert challenge_of(httpx.delete(url, headers=not_admin)) == (
        f'Bearer realm="{REALM}",service="{SERVICE}",scope="notary:admin:*",error="insufficient_scope"'
    )
    assert httpx.get(url, headers=signed(key, "GET", url)).status_code == 200
    revoked = httpx.delete(url, headers=bearer(issuer.mint_scope("notary:admin:*", sub="ops")))
    assert revoked.status_code == 204, revoked.text
    assert httpx.get(url, headers=signed(key, "GET", url)).status_code == 401  # the key is gone
    # A key still revokes itself with its own signature, as before token auth.
    own = issue(token_stack, authority, "i-0000000000000000d").json()
    own_url = f"{token_stack.base_url}/v1/keys/{own['identity']}"
    assert httpx.delete(own_url, headers=signed(own, "DELETE", own_url)).status_code == 204


def verify_request(key: dict[str, Any]) -> dict[str, str | None]:
    forwarded = signed(key, "GET", "http://svc.internal:8080/orders?id=7")
    return {
        "authorization": forwarded["Authorization"],
        "method": "GET",
        "uri": "/orders?id=7",
        "host": "svc.internal:8080",
        "date": forwarded["Date"],
        "digest": forwarded["Digest"],
    }


def test_verify_callers_may_use_a_token(
    token_stack: NotaryStack, authority: InstanceIdentityAuthority, issuer: TokenIssuer
) -> None:
    client_key = issue(token_stack, authority, "i-0000000000000000e").json()
    item = verify_request(client_key)
    verifier = bearer(issuer.mint_scope("notary:verify:*"))
    with token_stack.client() as client:
        answer = client.post("/v1/verify", json=item, headers=verifier)
        assert answer.status_code == 200, answer.text
        assert answer.json()["valid"] is True
        batch = client.post("/v1/verify/batch", json={"requests": [item, item]}, headers=verifier)
        assert [result["valid"] for result in batch.json()["results"]] == [True, True]
        lacking = client.post("/v1/verify", json=item, headers=bearer(issuer.mint_scope("notary:admin:*")))
        assert challenge_of(lacking).endswith('scope="notary:verify:*",error="insufficient_scope"')
        invalid = client.post("/v1/verify/batch", json=[item], headers=bearer("a.b.c"))
        assert challenge_of(invalid).endswith('scope="notary:verify:*",error="invalid_token"')
    # The caller's own key with the notary:verify role still works.
    own = issue(token_stack, authority, VERIFIER_INSTANCE).json()
    body = json.dumps(item).encode()
    url = f"{token_stack.base_url}/v1/verify"
    by_key = httpx.post(
        url, content=body, headers={**signed(own, "POST", url, body), "Content-Type": "application/json"}
    )
    assert by_key.json()["valid"] is True


# --- configuration


def test_autoredirect_realm_is_the_requests_host(stack: NotaryStack, issuer: TokenIssuer) -> None:
    bundle = stack.root / "bundle.pem"
    bundle.write_bytes(issuer.bundle_pem())
    stack.write_config(auth=auth_config(bundle, autoredirect=True))
    stack.start("web")
    own_host = httpx.get(f"{stack.base_url}/v2/")
    assert challenge_of(own_host) == (
        f'Bearer realm="https://127.0.0.1:{stack.port}/auth/token",service="{SERVICE}",scope="registry:catalog:*"'
    )
    proxied = httpx.get(f"{stack.base_url}/v2/", headers={"Host": "notary.example.com:8443"})
    assert challenge_of(proxied).startswith('Bearer realm="https://notary.example.com:8443/auth/token",')


@pytest.mark.parametrize(
    "bundle_content", [None, b"", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"]
)
def test_a_missing_or_empty_bundle_stops_start_up(stack: NotaryStack, bundle_content: bytes | None) -> None:
    bundle = stack.root / "bundle.pem"
    if bundle_content is not None:
        bundle.write_bytes(bundle_content)
    stack.write_config(auth=auth_config(bundle))
    result = subprocess.run(
        [str(BIN / "notary-server"), "-config", str(stack.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=stack.env(),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "auth.options.rootcertbundle" in lines[0]
    assert str(bundle) in lines[0]


# --- /v1/bulk/publish: push on every repository, and its job read with pull on every repository


def test_bulk_publish_needs_push_on_every_repository(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    first, second = "example.com/bulk-a", "example.com/bulk-b"
    body = {"repositories": [{"gun": gun, "files": {"root": "{}"}} for gun in (first, second)]}
    url = f"{token_stack.base_url}/v1/bulk/publish"
    only_first = issuer.mint_scope(f"repository:{first}:push,pull")
    refused = httpx.post(url, json=body, headers=bearer(only_first))
    assert challenge_of(refused).endswith(',error="insufficient_scope"')
    assert {"Type": "repository", "Class": "", "Name": second, "Action": "push"} in refused.json()["errors"][
        0
    ]["detail"]

    both = issuer.mint_scope(f"repository:{first}:push,pull repository:{second}:push,pull")
    accepted = httpx.post(url, json=body, headers=bearer(both))
    assert accepted.status_code == 202, accepted.text
    job_url = token_stack.base_url + accepted.headers["location"]
    assert httpx.get(job_url).status_code == 401
    pull_first = issuer.mint_scope(f"repository:{first}:pull")
    assert challenge_of(httpx.get(job_url, headers=bearer(pull_first))).endswith('error="insufficient_scope"')
    pull_both = issuer.mint_scope(f"repository:{first}:pull repository:{second}:pull")
    read = httpx.get(job_url, headers=bearer(pull_both))
    assert read.status_code == 200, read.text
    assert read.json()["progress"]["total"] == 2


def test_subscriptions_need_the_admin_scope(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    url = f"{token_stack.base_url}/v1/subscriptions"
    assert (
        challenge_of(httpx.get(url)) == f'Bearer realm="{REALM}",service="{SERVICE}",scope="notary:admin:*"'
    )
    everything_of_a_repository = issuer.mint_scope(f"repository:{GUN}:*")
    assert challenge_of(httpx.get(url, headers=bearer(everything_of_a_repository))).endswith(
        'error="insufficient_scope"'
    )
    listed = httpx.get(url, headers=bearer(issuer.mint_scope("notary:admin:*")))
    assert listed.status_code == 200, listed.text


def test_the_access_list_needs_the_admin_scope(token_stack: NotaryStack, issuer: TokenIssuer) -> None:
    url = f"{token_stack.base_url}/v1/access-list/i-0123456789abcdef0"
    assert (
        challenge_of(httpx.delete(url))
        == f'Bearer realm="{REALM}",service="{SERVICE}",scope="notary:admin:*"'
    )
    verifier = issuer.mint_scope("notary:verify:*")
    assert challenge_of(httpx.delete(url, headers=bearer(verifier))).endswith('error="insufficient_scope"')
    admin = bearer(issuer.mint_scope("notary:admin:*"))
    assert httpx.delete(url, headers=admin).json()["errors"][0]["code"] == "ACCESS_ENTRY_NOT_FOUND"
