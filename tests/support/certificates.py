"""Throwaway X.509 material for tests: a CA, and certificates it issues (for Celery message signing and for
Redis TLS), written as PEM files."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .servers import RedisTls

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        """``name.crt`` and ``name.key`` (mode 0600) in ``folder``; returns (certificate, key)."""
        folder.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
        cert_path.write_bytes(self.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(self.key_pem)
        return cert_path, key_path


class ThrowawayCA:
    """A self-signed CA that issues leaf certificates (or, to test refusals, CA certificates)."""

    def __init__(self, name: str = "notary test CA") -> None:
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        key = rsa_key()
        self.root = Issued(key, self._build(self.name, key, key.public_key(), ca=True))

    @property
    def cert_pem(self) -> bytes:
        return self.root.cert_pem

    def issue(
        self,
        common_name: str,
        *,
        key: PrivateKey | None = None,
        ca: bool = False,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        ip_addresses: tuple[str, ...] = (),
        serial: int | None = None,
    ) -> Issued:
        key = key or rsa_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = self._build(
            subject,
            self.root.key,
            key.public_key(),
            ca=ca,
            valid_from=valid_from,
            valid_until=valid_until,
            ip_addresses=ip_addresses,
            serial=serial,
        )
        return Issued(key, cert)

    def _build(
        self,
        subject: x509.Name,
        signing_key: PrivateKey,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        *,
        ca: bool,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        ip_addresses: tuple[str, ...] = (),
        serial: int | None = None,
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(valid_from or now - timedelta(hours=1))
            .not_valid_after(valid_until or now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ip_addresses:
            names = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signing_key, hashes.SHA256())


def redis_tls_files(folder: Path, ca: ThrowawayCA) -> RedisTls:
    """A Redis server certificate for 127.0.0.1 and a client certificate, both issued by ``ca``."""
    server_cert, server_key = ca.issue("redis", ip_addresses=("127.0.0.1",)).write(folder, "redis")
    client_cert, client_key = ca.issue("notary").write(folder, "client")
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    return RedisTls(ca_file, server_cert, server_key, client_cert, client_key)
