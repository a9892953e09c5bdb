"""Throwaway signing keys and certificate chains for the token tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Chain:
    key: PrivateKey
    certificates: tuple[x509.Certificate, ...]  # leaf first

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.certificates)


def _certificate(
    subject: str, key: PrivateKey, issuer: str, issuer_key: PrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def signed_by_ca(key: PrivateKey) -> Chain:
    """``key``'s certificate issued by an intermediate CA: the chain is [leaf, intermediate]."""
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    intermediate = _certificate(
        "test intermediate", intermediate_key, "test root", ec.generate_private_key(ec.SECP256R1()), True
    )
    leaf = _certificate("test token signer", key, "test intermediate", intermediate_key, False)
    return Chain(key, (leaf, intermediate))


def self_signed(key: PrivateKey) -> Chain:
    return Chain(key, (_certificate("test token signer", key, "test token signer", key, False),))
