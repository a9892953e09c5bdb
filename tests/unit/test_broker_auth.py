"""notary.broker_auth: message-signing certificates and Redis TLS files are checked at start-up, and every
refusal is one ConfigError naming the setting."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from notary.broker_auth import check_broker_tls, load_signing_identity
from notary.errors import ConfigError
from notary.settings import Settings, load_settings
from tests.support.certificates import Issued, ThrowawayCA, key_pem, rsa_key

CA = ThrowawayCA()


@dataclass
class Deployment:
    folder: Path

    def settings(self, **sections: dict[str, Any]) -> Settings:
        config = self.folder / "notary.json"
        config.write_text(json.dumps(sections))
        return load_settings(config, {})

    def signing(self, own: Issued, *trusted: Issued, store: str = "trusted.pem") -> Settings:
        """Settings whose identity is ``own`` and whose store is a bundle of ``trusted``."""
        own.write(self.folder, "own")
        (self.folder / store).write_bytes(b"".join(peer.cert_pem for peer in trusted))
        return self.settings(
            security={"key_file": "own.key", "cert_file": "own.crt", "cert_store": store},
        )


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    return Deployment(tmp_path)


def refusal(settings: Settings, key: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_signing_identity(settings)
    assert caught.value.key == key, caught.value
    assert "\n" not in str(caught.value)
    return caught.value.problem


def test_unconfigured_signing_is_none(deployment: Deployment) -> None:
    assert load_signing_identity(deployment.settings()) is None


def test_a_leaf_certificate_and_a_bundle_store_load(deployment: Deployment) -> None:
    own, peer = CA.issue("api"), CA.issue("signer")
    identity = load_signing_identity(deployment.signing(own, own, peer))
    assert identity is not None
    assert identity.key_pem == own.key_pem
    assert identity.trusted_pems == (own.cert_pem, peer.cert_pem)


def test_a_folder_store_loads_every_file(deployment: Deployment) -> None:
    own, peer = CA.issue("api"), CA.issue("signer")
    store = deployment.folder / "store"
    own.write(store, "api")
    peer.write(store, "signer")
    for key_file in store.glob("*.key"):
        key_file.unlink()
    own.write(deployment.folder, "own")
    settings = deployment.settings(
        security={"key_file": "own.key", "cert_file": "own.crt", "cert_store": "store"}
    )
    identity = load_signing_identity(settings)
    assert identity is not None
    assert set(identity.trusted_pems) == {own.cert_pem, peer.cert_pem}


def test_a_ca_certificate_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api", ca=True)
    assert "is a CA" in refusal(deployment.signing(own, own), "security.cert_file")


def test_a_certificate_whose_key_does_not_match_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api")
    mismatched = Issued(rsa_key(), own.cert)
    assert "does not match" in refusal(deployment.signing(mismatched, own), "security.cert_file")


def test_an_expired_certificate_is_refused(deployment: Deployment) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    own = CA.issue("api", valid_from=past - timedelta(days=30), valid_until=past)
    assert "expired" in refusal(deployment.signing(own, CA.issue("peer")), "security.cert_file")


def test_a_certificate_not_yet_valid_is_refused(deployment: Deployment) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    own = CA.issue("api", valid_from=future, valid_until=future + timedelta(days=30))
    assert "not valid before" in refusal(deployment.signing(own, CA.issue("peer")), "security.cert_file")


def test_a_ca_in_the_trust_store_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api")
    problem = refusal(deployment.signing(own, own, CA.root), "security.cert_store")
    assert "is a CA" in problem
    assert "trusted.pem" in problem


def test_an_expired_peer_is_refused(deployment: Deployment) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    stale = CA.issue("old", valid_from=past - timedelta(days=30), valid_until=past)
    assert "expired" in refusal(deployment.signing(CA.issue("api"), stale), "security.cert_store")


def test_a_non_rsa_key_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api", key=ec.generate_private_key(ec.SECP256R1()))
    assert "RSA" in refusal(deployment.signing(own, own), "security.key_file")


def test_an_encrypted_key_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api")
    settings = deployment.signing(own, own)
    (deployment.folder / "own.key").write_bytes(key_pem(own.key, b"secret"))
    assert "encrypted" in refusal(settings, "security.key_file")


def test_an_empty_store_is_refused(deployment: Deployment) -> None:
    own = CA.issue("api")
    (deployment.folder / "store").mkdir()
    own.write(deployment.folder, "own")
    settings = deployment.settings(
        security={"key_file": "own.key", "cert_file": "own.crt", "cert_store": "store"}
    )
    assert "no certificate" in refusal(settings, "security.cert_store")


def test_a_missing_file_names_its_setting(deployment: Deployment) -> None:
    settings = deployment.settings(
        security={"key_file": "absent.key", "cert_file": "absent.crt", "cert_store": "absent"}
    )
    problem = refusal(settings, "security.key_file")
    assert "cannot read" in problem
    assert "absent.key" not in problem  # where the key lives is a secret too


def test_signing_settings_go_together(deployment: Deployment) -> None:
    with pytest.raises(ConfigError) as caught:
        deployment.settings(security={"key_file": "own.key"})
    assert caught.value.key == "security.cert_file"


def test_broker_tls_files_need_a_rediss_broker(deployment: Deployment) -> None:
    with pytest.raises(ConfigError) as caught:
        deployment.settings(broker={"url": "redis://127.0.0.1:1/0", "tls_ca_file": "ca.pem"})
    assert caught.value.key == "broker.tls_ca_file"
    assert "rediss://" in caught.value.problem


def test_broker_tls_client_certificate_is_checked(deployment: Deployment) -> None:
    (deployment.folder / "ca.pem").write_bytes(CA.cert_pem)
    client = CA.issue("client")
    client.write(deployment.folder, "client")
    tls = {"url": "rediss://127.0.0.1:1/0", "tls_ca_file": "ca.pem"}
    check_broker_tls(
        deployment.settings(broker={**tls, "tls_cert_file": "client.crt", "tls_key_file": "client.key"})
    )

    Issued(rsa_key(), client.cert).write(deployment.folder, "mismatched")
    with pytest.raises(ConfigError) as caught:
        check_broker_tls(
            deployment.settings(
                broker={**tls, "tls_cert_file": "client.crt", "tls_key_file": "mismatched.key"}
            )
        )
    assert caught.value.key == "broker.tls_key_file"

    CA.issue("client", ca=True).write(deployment.folder, "ca-client")
    with pytest.raises(ConfigError) as caught:
        check_broker_tls(
            deployment.settings(
                broker={**tls, "tls_cert_file": "ca-client.crt", "tls_key_file": "ca-client.key"}
            )
        )
    assert caught.value.key == "broker.tls_cert_file"
    assert "is a CA" in caught.value.problem
