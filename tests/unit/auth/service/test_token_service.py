"""The token service's settings: required together, and every file problem named by its option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notary.auth.access import Resource, repository
from notary.auth.service.dev_cert import make_dev_certificate
from notary.auth.service.grants import ANONYMOUS
from notary.auth.service.token_service import TokenService
from notary.auth.service.users import hash_password
from notary.errors import ConfigError
from notary.settings import load_settings


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = make_dev_certificate()
    paths = {name: tmp_path / name for name in ("token.key", "token.crt", "users", "grants")}
    paths["token.key"].write_bytes(made.key_pem)
    paths["token.crt"].write_bytes(made.cert_pem)
    paths["users"].write_text(f"alice:{hash_password(b'pw', cost=4)}\n")
    paths["grants"].write_text(f"alice: repository:a/*:push,pull\n{ANONYMOUS}: repository:public/*:pull\n")
    return paths


def config(tmp_path: Path, **token_service: Any) -> Path:
    document = {
        "auth": {"options": {"issuer": "test-issuer", "service": "test-service"}},
        "token_service": {
            "enabled": True,
            "users_file": "users",
            "grants_file": "grants",
            "key_file": "token.key",
            "cert_file": "token.crt",
            "ttl": 120,
            **token_service,
        },
    }
    path = tmp_path / "notary.json"
    path.write_text(json.dumps(document))
    return path


def test_off_by_default() -> None:
    assert TokenService.from_settings(load_settings(None, {})) is None


def test_loaded_from_files_relative_to_the_config(tmp_path: Path, files: dict[str, Path]) -> None:
    service = TokenService.from_settings(load_settings(config(tmp_path), {}))
    assert service is not None
    assert (service.issuer, service.service, service.ttl) == ("test-issuer", "test-service", 120)
    assert service.users.authenticate("alice", b"pw")
    minted = service.issue("alice", repository("a/b", "push", "pull", "*"))
    assert minted.access == (Resource("repository", "a/b", ("push", "pull")),)
    anonymous = service.issue(None, repository("public/x", "push", "pull"))
    assert anonymous.access == (Resource("repository", "public/x", ("pull",)),)


@pytest.mark.parametrize(
    "missing",
    ["users_file", "grants_file", "key_file", "cert_file"],
)
def test_every_file_is_required_when_enabled(tmp_path: Path, missing: str) -> None:
    with pytest.raises(ConfigError, match=r"required when token_service\.enabled") as refused:
        load_settings(config(tmp_path, **{missing: None}), {})
    assert refused.value.key == f"token_service.{missing}"


def test_the_issuer_and_service_are_required_when_enabled(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(config(tmp_path), {"NOTARY_SERVER_AUTH_OPTIONS_SERVICE": ""})
    assert refused.value.key == "auth.options.service"


@pytest.mark.parametrize(
    ("name", "content", "key", "problem"),
    [
        ("users", "alice:plain\n", "token_service.users_file", "line 1: 'alice' has no bcrypt hash"),
        ("grants", "alice repository:a:pull\n", "token_service.grants_file", "line 1: expected"),
        ("token.key", "not a key", "token_service.key_file", "not an unencrypted PEM private key"),
        ("token.crt", "", "token_service.cert_file", "not a PEM certificate chain"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_its_option(
    tmp_path: Path, files: dict[str, Path], name: str, content: str, key: str, problem: str
) -> None:
    files[name].write_text(content)
    with pytest.raises(ConfigError, match=problem) as refused:
        TokenService.from_settings(load_settings(config(tmp_path), {}))
    assert refused.value.key == key


def test_an_unreadable_file_is_a_config_error(tmp_path: Path, files: dict[str, Path]) -> None:
    files["users"].unlink()
    with pytest.raises(ConfigError, match="cannot read") as refused:
        TokenService.from_settings(load_settings(config(tmp_path), {}))
    assert refused.value.key == "token_service.users_file"


def test_the_key_path_is_a_secret_in_logs(tmp_path: Path, files: dict[str, Path]) -> None:
    assert load_settings(config(tmp_path), {}).redacted()["token_service.key_file"] == "<redacted>"
