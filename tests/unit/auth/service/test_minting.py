"""Minted tokens in the Docker registry v2 format, checked with PyJWT and, independently, by verifying the
signature with the x5c certificate's key through ``cryptography``."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from notary.auth.access import Resource, repository
from notary.auth.service.minting import SigningKeyError, TokenSigner
from notary.auth.trust import libtrust_key_id
from tests.support.certificates import certificate, ec_key, key_pem, pem
from tests.support.token_issuer import TokenIssuer

ACCESS = repository("example.com/app", "push", "pull")


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    header, payload, signature = token.split(".")
    return (
        json.loads(_b64url(header)),
        json.loads(_b64url(payload)),
        _b64url(signature),
        f"{header}.{payload}".encode(),
    )


def verify_with_x5c(token: str) -> x509.Certificate:
    """Verify the signature with the key of x5c[0] by hand (raw r||s for ES256, PKCS#1 v1.5 for RS256)."""
    header, _, signature, signing_input = parts(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0], validate=True))
    public_key = leaf.public_key()
    if header["alg"] == "ES256":
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert len(signature) == 64
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        public_key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    else:
        assert header["alg"] == "RS256"
        assert isinstance(public_key, rsa.RSAPublicKey)
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    return leaf


@pytest.fixture(scope="module")
def ec_signer() -> TokenSigner:
    issued = TokenIssuer()  # its signing certificate is issued by an intermediate CA
    return TokenSigner.from_pem(key_pem(issued.signing_key), pem(issued.leaf, issued.intermediate))


def test_an_es256_token_in_the_docker_format(ec_signer: TokenSigner) -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    minted = ec_signer.mint(issuer="iss", service="svc", subject="alice", access=ACCESS, ttl=300, now=now)
    header, claims, _, _ = parts(minted.token)

    leaf = verify_with_x5c(minted.token)
    assert leaf == ec_signer.chain[0]
    assert header["alg"] == "ES256"
    assert header["kid"] == libtrust_key_id(leaf.public_key())
    assert [base64.b64decode(c) for c in header["x5c"]] == [
        cert.public_bytes(serialization.Encoding.DER) for cert in ec_signer.chain
    ]
    issued = int(now.replace(microsecond=0).timestamp())
    assert claims == {
        "iss": "iss",
        "sub": "alice",
        "aud": "svc",
        "exp": issued + 300,
        "nbf": issued,
        "iat": issued,
        "jti": claims["jti"],
        "access": [{"type": "repository", "name": "example.com/app", "actions": ["push", "pull"]}],
    }
    assert isinstance(claims["aud"], str)
    assert minted.expires_in == 300
    assert minted.issued_at == now.replace(microsecond=0)
    assert minted.access == (Resource("repository", "example.com/app", ("push", "pull")),)


def test_pyjwt_accepts_it_with_the_pinned_algorithm(ec_signer: TokenSigner) -> None:
    minted = ec_signer.mint(issuer="iss", service="svc", subject="alice", access=ACCESS, ttl=60)
    decoded = jwt.decode(
        minted.token,
        ec_signer.chain[0].public_key(),
        algorithms=["ES256"],
        audience="svc",
        issuer="iss",
        options={"require": ["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert decoded["access"][0]["name"] == "example.com/app"


def test_each_token_has_its_own_jti(ec_signer: TokenSigner) -> None:
    first, second = (
        parts(ec_signer.mint(issuer="i", service="s", subject="", access=(), ttl=60).token)[1]
        for _ in range(2)
    )
    assert first["jti"] != second["jti"]
    assert len(bytes.fromhex(first["jti"])) == 16
    assert first["sub"] == ""
    assert first["access"] == []


def test_an_rs256_token_from_an_rsa_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = certificate("test token signer", key)
    signer = TokenSigner.from_pem(key_pem(key), pem(leaf))
    token = signer.mint(issuer="i", service="s", subject="bob", access=ACCESS, ttl=60).token
    header, _, _, _ = parts(token)
    assert header["alg"] == "RS256"
    assert len(header["x5c"]) == 1
    verify_with_x5c(token)
    jwt.decode(token, leaf.public_key(), algorithms=["RS256"], audience="s", issuer="i")


def test_a_tampered_token_fails_the_independent_check(ec_signer: TokenSigner) -> None:
    token = ec_signer.mint(issuer="i", service="s", subject="bob", access=ACCESS, ttl=60).token
    header, _claims, signature = token.split(".")
    forged_claims = base64.urlsafe_b64encode(json.dumps({"sub": "mallory"}).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        verify_with_x5c(f"{header}.{forged_claims}.{signature}")


@pytest.mark.parametrize(
    ("make_key", "problem"),
    [
        (lambda: ec.generate_private_key(ec.SECP384R1()), "must be P-256"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024), "at least 2048"),  # noqa: S505
    ],
)
def test_keys_outside_es256_and_rs256_are_refused(make_key: Any, problem: str) -> None:
    key = make_key()
    with pytest.raises(SigningKeyError, match=problem):
        TokenSigner.from_pem(key_pem(key), pem(certificate("test token signer", key)))


def test_the_certificate_must_be_the_keys() -> None:
    key = ec_key()
    chain = pem(certificate("test token signer", key))
    with pytest.raises(SigningKeyError, match="not the signing key's"):
        TokenSigner.from_pem(key_pem(key), pem(certificate("another signer", ec_key())))
    with pytest.raises(SigningKeyError, match="certificate chain"):
        TokenSigner.from_pem(key_pem(key), b"")
    with pytest.raises(SigningKeyError, match="private key"):
        TokenSigner.from_pem(chain, chain)


def test_the_lifetime_is_bounded(ec_signer: TokenSigner) -> None:
    for ttl in (0, 24 * 3600 + 1):
        with pytest.raises(ValueError, match="lifetime"):
            ec_signer.mint(issuer="i", service="s", subject="", access=(), ttl=ttl)
