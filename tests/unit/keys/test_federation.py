"""notary.keys.federation: the wire contract between datacenters, the verifying Notary's own identity and
its configuration (the end-to-end behaviour is in tests/api/test_federation.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from notary.errors import ConfigError
from notary.keys.federation import (
    PeerAnswerError,
    issuing_dc,
    load_login_body,
    parse_login,
    parse_served_key,
    served_key,
)
from notary.keys.identity import Identity
from notary.settings import Settings, load_settings

IDENTITY = Identity(dc="dc-a", id="t-0123456789abcdef").encode()
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PKCS7 = (Path(__file__).parents[2] / "fixtures" / "aws" / "iid-2015.pkcs7.b64").read_text()


def test_issuing_dc_reads_our_identities_only() -> None:
    assert issuing_dc(IDENTITY) == "dc-a"
    assert issuing_dc("7bf9708aa51b7f7859d0e68b6b62b8ab") is None  # an opaque Turnstile identity
    assert issuing_dc("") is None


def test_a_served_key_reads_back() -> None:
    document = served_key(IDENTITY, ["s1", "s2"], ["web"], NOW + timedelta(seconds=90), NOW)
    assert document["expires_at"] == "2026-03-01T12:01:30Z"
    assert document["ttl"] == 90
    key = parse_served_key(json.loads(json.dumps(document)), IDENTITY)
    assert key.secrets == ("s1", "s2")
    assert key.roles == ("web",)
    assert key.expires_at == NOW + timedelta(seconds=90)


def _served(**changes: Any) -> dict[str, Any]:
    document = served_key(IDENTITY, ["s1"], [], NOW, NOW)
    document.update(changes)
    return {key: value for key, value in document.items() if value is not ...}


@pytest.mark.parametrize(
    "document",
    [
        [],
        _served(identity=Identity(dc="dc-a", id="t-fedcba9876543210").encode()),
        _served(secrets=[]),
        _served(secrets="s1"),
        _served(secrets=[""]),
        _served(secrets=...),
        _served(roles=None),
        _served(roles=[1]),
        _served(expires_at=...),
        _served(expires_at="tomorrow"),
        _served(expires_at="2026-03-01T12:00:00"),  # no offset: ambiguous
        _served(expires_at=1772366400),
    ],
)
def test_an_answer_off_the_contract_is_never_a_key(document: object) -> None:
    with pytest.raises(PeerAnswerError):
        parse_served_key(document, IDENTITY)


def test_the_login_key_is_renewed_before_it_expires() -> None:
    login = parse_login({"identity": IDENTITY, "secret": "s" * 64, "expires_at": "2026-03-01T13:00:00Z"}, NOW)
    assert login.lifetime == timedelta(hours=1)
    assert not login.due_for_renewal(NOW + timedelta(minutes=47))
    assert login.due_for_renewal(NOW + timedelta(minutes=48))
    assert "s" * 64 not in repr(login)


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"identity": IDENTITY, "expires_at": "2026-03-01T13:00:00Z"},
        {"identity": "opaque", "secret": "s", "expires_at": "2026-03-01T13:00:00Z"},
        {"identity": IDENTITY, "secret": "s"},
    ],
)
def test_a_login_answer_off_the_contract_is_refused(document: object) -> None:
    with pytest.raises(PeerAnswerError):
        parse_login(document, NOW)


# --- configuration ----------------------------------------------------------------------------------------


def _settings(tmp_path: Path, keys: dict[str, Any]) -> Settings:
    config = tmp_path / "notary.json"
    config.write_text(json.dumps({"keys": keys}))
    return load_settings(config, {})


def _identity_files(tmp_path: Path, document: bytes = b'{"instanceId": "i-1"}\r\n') -> dict[str, Any]:
    (tmp_path / "document.json").write_bytes(document)
    (tmp_path / "document.pkcs7").write_text(PKCS7)
    return {
        "document_file": "document.json",
        "signature_file": "document.pkcs7",
        "nonce": "a-nonce",
    }


def test_the_login_body_is_the_files_byte_for_byte(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"federation": _identity_files(tmp_path)})
    body = load_login_body(settings)
    assert body == {"document": '{"instanceId": "i-1"}\r\n', "signature": PKCS7, "nonce": "a-nonce"}
    assert "a-nonce" not in json.dumps(settings.redacted())


def test_no_federation_identity_means_no_login(tmp_path: Path) -> None:
    assert load_login_body(_settings(tmp_path, {})) is None


def test_an_unreadable_or_unacceptable_identity_stops_start_up(tmp_path: Path) -> None:
    federation = _identity_files(tmp_path)
    with pytest.raises(ConfigError, match=r"keys\.federation\.document_file"):
        load_login_body(_settings(tmp_path, {"federation": {**federation, "document_file": "missing.json"}}))
    with pytest.raises(ConfigError, match="nonce must be"):
        load_login_body(_settings(tmp_path, {"federation": {**federation, "nonce": "\x01"}}))


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"federation": {"nonce": "n"}}, "keys.federation.document_file"),
        ({"federation": {"document_file": "d", "signature_file": "s"}}, "keys.federation.nonce"),
        ({"peers": {"dc-a": "https://notary.dc-a"}}, "keys.federation.signature_file"),
        ({"dc": "dc-a", "peers": {"dc-a": "https://notary.dc-a"}, "federation": ...}, "keys.peers"),
        ({"peers": {"dc a": "https://notary.dc-a"}}, "keys.peers"),
        ({"replay_cache": "sometimes"}, "keys.replay_cache"),
    ],
)
def test_federation_settings_are_checked_together(tmp_path: Path, keys: dict[str, Any], named: str) -> None:
    if keys.get("federation") is ...:
        keys = {**keys, "federation": _identity_files(tmp_path)}
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, keys)
    assert caught.value.key == named


def test_peer_urls_lose_their_trailing_slash(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, {"peers": {"dc-a": "https://notary.dc-a/"}, "federation": _identity_files(tmp_path)}
    )
    assert settings["keys.peers"] == {"dc-a": "https://notary.dc-a"}
    assert settings["keys.replay_cache"] is False
