"""Minting Docker registry v2 bearer tokens: a JWT whose header carries the signing certificate chain.

The header has ``alg`` (pinned to the key: ES256 for an EC P-256 key, RS256 for an RSA key of at least 2048
bits), ``x5c`` (standard base64 DER of the signing certificate, then its intermediates, as in the PEM file)
and ``kid`` (the libtrust key id of the signing key). The claims are ``iss``, ``sub`` (the account, empty for
an anonymous token), ``aud`` (a JSON string: the service), ``exp``, ``nbf``, ``iat``, a random ``jti`` and
``access``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from notary.auth.access import Access, Resource, resources
from notary.auth.trust import libtrust_key_id

MIN_RSA_BITS = 2048
MAX_TTL = 24 * 3600


class SigningKeyError(ValueError):
    """A signing key or certificate chain that cannot sign tokens; the message never holds key material."""


@dataclass(frozen=True)
class MintedToken:
    token: str
    access: tuple[Resource, ...]  # the token's access claim
    issued_at: datetime
    expires_in: int


SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def load_signing_key(pem: bytes) -> SigningKey:
    try:
        private_key: PrivateKeyTypes = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise SigningKeyError("not an unencrypted PEM private key") from None
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise SigningKeyError(f"EC keys must be P-256 (ES256), not {private_key.curve.name}")
        return private_key
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < MIN_RSA_BITS:
            raise SigningKeyError(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        return private_key
    raise SigningKeyError("the key must be EC P-256 (ES256) or RSA (RS256)")


def load_chain(pem: bytes) -> tuple[x509.Certificate, ...]:
    """The signing certificate first, then its intermediates."""
    try:
        return tuple(x509.load_pem_x509_certificates(pem))
    except ValueError:
        raise SigningKeyError("not a PEM certificate chain") from None


@dataclass(frozen=True)
class TokenSigner:
    private_key: SigningKey
    chain: tuple[x509.Certificate, ...]

    def __post_init__(self) -> None:
        if not self.chain or self.chain[0].public_key() != self.private_key.public_key():
            raise SigningKeyError("the first certificate of the chain is not the signing key's")

    @classmethod
    def from_pem(cls, key_pem: bytes, chain_pem: bytes) -> TokenSigner:
        return cls(load_signing_key(key_pem), load_chain(chain_pem))

    @classmethod
    def from_files(cls, key_file: Path, cert_file: Path) -> TokenSigner:
        return cls.from_pem(key_file.read_bytes(), cert_file.read_bytes())

    @property
    def algorithm(self) -> str:
        return "ES256" if isinstance(self.private_key, ec.EllipticCurvePrivateKey) else "RS256"

    @property
    def key_id(self) -> str:
        return libtrust_key_id(self.private_key.public_key())

    def mint(
        self,
        *,
        issuer: str,
        service: str,
        subject: str,
        access: Iterable[Access],
        ttl: int,
        now: datetime | None = None,
    ) -> MintedToken:
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"the token lifetime must be between 1 and {MAX_TTL} seconds")
        issued_at = (now or datetime.now(UTC)).replace(microsecond=0)
        granted = resources(access)
        claims = {
            "iss": issuer,
            "sub": subject,
            "aud": service,
            "exp": issued_at + timedelta(seconds=ttl),
            "nbf": issued_at,
            "iat": issued_at,
            "jti": secrets.token_hex(16),
            "access": [resource.to_claim() for resource in granted],
        }
        headers = {
            "kid": self.key_id,
            "x5c": [
                base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")
                for cert in self.chain
            ],
        }
        token = jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)
        return MintedToken(token, granted, issued_at, ttl)
