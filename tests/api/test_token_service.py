"""``GET /auth/token`` through a real ``notary-server``: Basic auth against the users file, the grants
intersection, anonymous tokens, and the errors of the Docker token protocol."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509

from tests.support.processes import BIN, NotaryStack
from tests.support.servers import RedisServer
from tests.support.token_service import token_service_files

ISSUER, SERVICE = "test-token-issuer", "test-notary"
GRANTS = """\
alice: repository:example.com/alice/*:push,pull  repository:example.com/shared/*:pull
admin: repository:*:*  registry:catalog:*
@anonymous: repository:example.com/public/*:pull
"""


USERS = {"alice": "alice's password", "admin": "admin password"}


@pytest.fixture(scope="module")
def token_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    root = tmp_path_factory.mktemp("token-service")
    redis = RedisServer.start(root / "redis")
    stack = NotaryStack(root / "notary", redis.url, f"sqlite:///{root}/notary.db")
    stack.write_config(
        auth={"options": {"issuer": ISSUER, "service": SERVICE}},
        token_service=token_service_files(root / "tokens", USERS, GRANTS),
    )
    stack.start("web")
    yield stack
    stack.stop_all()
    redis.stop()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def get_token(stack: NotaryStack, params: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    with stack.client() as client:
        return client.get("/auth/token", params=params, headers=headers or {})


def claims_of(stack: NotaryStack, response: httpx.Response) -> dict[str, Any]:
    """The verified claims: signature checked with the configured certificate, which is also x5c[0]."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 120
    certificate = x509.load_pem_x509_certificate((stack.root.parent / "tokens" / "token.crt").read_bytes())
    header = jwt.get_unverified_header(body["token"])
    assert x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0])) == certificate
    claims: dict[str, Any] = jwt.decode(
        body["token"], certificate.public_key(), algorithms=["ES256"], audience=SERVICE, issuer=ISSUER
    )
    assert body["issued_at"].endswith("Z")
    assert claims["exp"] - claims["iat"] == 120
    return claims


def test_a_user_gets_what_was_asked_and_granted(token_stack: NotaryStack) -> None:
    response = get_token(
        token_stack,
        {"service": SERVICE, "account": "alice", "scope": "repository:example.com/alice/app:push,pull"},
        basic("alice", USERS["alice"]),
    )
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(token_stack, response)
    assert claims["sub"] == "alice"
    assert claims["access"] == [
        {"type": "repository", "name": "example.com/alice/app", "actions": ["push", "pull"]}
    ]


def test_the_grant_is_the_intersection_of_request_and_grants(token_stack: NotaryStack) -> None:
    params = [
        ("service", SERVICE),
        ("scope", "repository:example.com/shared/lib:push,pull repository:example.com/bob/app:pull"),
        ("scope", "repository:example.com/alice/app:*"),
        ("scope", "repository:example.com/alice/app:pull"),
        ("scope", "registry:catalog:*"),
    ]
    claims = claims_of(token_stack, get_token(token_stack, params, basic("alice", USERS["alice"])))
    assert claims["access"] == [
        {"type": "repository", "name": "example.com/shared/lib", "actions": ["pull"]},
        {"type": "repository", "name": "example.com/alice/app", "actions": ["pull"]},
    ]


def test_an_admin_gets_star_and_the_catalog(token_stack: NotaryStack) -> None:
    params = [("service", SERVICE), ("scope", "repository:any/gun:*"), ("scope", "registry:catalog:*")]
    claims = claims_of(token_stack, get_token(token_stack, params, basic("admin", USERS["admin"])))
    assert claims["access"] == [
        {"type": "repository", "name": "any/gun", "actions": ["*"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_anonymous_requests_get_only_the_anonymous_grants(token_stack: NotaryStack) -> None:
    params = [
        ("service", SERVICE),
        ("scope", "repository:example.com/public/app:push,pull"),
        ("scope", "repository:example.com/alice/app:pull"),
    ]
    claims = claims_of(token_stack, get_token(token_stack, params))
    assert claims["sub"] == ""
    assert claims["access"] == [{"type": "repository", "name": "example.com/public/app", "actions": ["pull"]}]


def assert_basic_challenge(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith('Basic realm="')
    assert response.json() == {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
    assert "token" not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong password"),
        basic("alice", ""),
        basic("nobody", USERS["alice"]),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        {"Authorization": "Bearer something"},
    ],
    ids=["wrong-password", "empty-password", "unknown-user", "bad-base64", "no-colon", "not-basic"],
)
def test_bad_credentials_get_a_basic_challenge(token_stack: NotaryStack, headers: dict[str, str]) -> None:
    params = {"service": SERVICE, "scope": "repository:example.com/public/app:pull"}
    assert_basic_challenge(get_token(token_stack, params, headers))


def test_an_account_without_credentials_is_challenged(token_stack: NotaryStack) -> None:
    params = {"service": SERVICE, "account": "alice", "scope": "repository:example.com/alice/app:pull"}
    assert_basic_challenge(get_token(token_stack, params))


def test_the_account_must_be_the_authenticated_user(token_stack: NotaryStack) -> None:
    params = {"service": SERVICE, "account": "admin", "scope": "repository:x:pull"}
    response = get_token(token_stack, params, basic("alice", USERS["alice"]))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_PARAMETERS"
    assert response.json()["errors"][0]["detail"] == {"account": "must be the authenticated user"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"service": "another-service", "scope": "repository:x:pull"}, "service"),
        ({"scope": "repository:x:pull"}, "service"),
        ([("service", SERVICE), ("service", SERVICE)], "service"),
        ({"service": SERVICE, "scope": "repository:x"}, "scope"),
        ({"service": SERVICE, "scope": " ".join(f"repository:r{i}:pull" for i in range(33))}, "scope"),
    ],
    ids=["wrong-service", "no-service", "two-services", "malformed-scope", "too-many-scopes"],
)
def test_bad_parameters_answer_400(token_stack: NotaryStack, params: Any, field: str) -> None:
    response = get_token(token_stack, params, basic("alice", USERS["alice"]))
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["code"] == "INVALID_PARAMETERS"
    assert field in error["detail"]


def test_an_overlong_query_is_refused_before_any_work(token_stack: NotaryStack) -> None:
    response = get_token(token_stack, {"service": SERVICE, "scope": "repository:" + "a" * 9000 + ":pull"})
    assert response.status_code == 400
    assert "longer than 8192 bytes" in response.json()["errors"][0]["detail"]


def test_no_route_unless_enabled(stack: NotaryStack) -> None:
    stack.start("web")
    response = get_token(stack, {"service": SERVICE})
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "METADATA_NOT_FOUND"


def test_a_bad_users_file_stops_start_up_naming_the_option(tmp_path: Path) -> None:
    section = token_service_files(tmp_path / "tokens", USERS, GRANTS)
    Path(section["users_file"]).write_text("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    config = tmp_path / "notary.json"
    config.write_text(
        json.dumps({"auth": {"options": {"issuer": ISSUER, "service": SERVICE}}, "token_service": section})
    )
    result = subprocess.run(
        [str(BIN / "notary-server"), "-config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2, result.stderr
    assert "token_service.users_file" in result.stderr
    assert "line 1: 'alice' has no bcrypt hash" in result.stderr
