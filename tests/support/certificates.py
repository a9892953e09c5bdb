"""Throwaway X.509 material for tests: :func:`certificate` builds one certificate field by field (self-signed
or issued, any key, dates and digest), :func:`resign` re-signs one with what ``cryptography`` refuses
(SHA-1, MD5) or with its dates swapped, and :class:`ThrowawayCA` issues leaf certificates (Celery message
signing, Redis TLS, HTTPS servers and clients), written as PEM files when a process needs them."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .servers import RedisTls

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# An extension to add and whether it is critical.
Extension = tuple[x509.ExtensionType, bool]


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def key_pem(key: PrivateKey, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certificates)


def certificate(
    subject: str,
    key: PrivateKey,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
    *,
    ca: bool = False,
    path_length: int | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    digest: hashes.HashAlgorithm | None = None,
    extensions: Sequence[Extension] = (),
) -> x509.Certificate:
    """A certificate for ``key``, signed by ``issuer`` (certificate and key), or self-signed. It carries a
    critical BasicConstraints when it is a CA or issued; a self-signed leaf carries none."""
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, signing_key = (name, key) if issuer is None else (issuer[0].subject, issuer[1])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - timedelta(hours=1))
        .not_valid_after(valid_until or now + timedelta(days=30))
    )
    if ca or issuer is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, digest or hashes.SHA256())


_RESIGN_HASHES: dict[str, hashes.HashAlgorithm] = {
    "md5_rsa": hashes.MD5(),
    "sha1_rsa": hashes.SHA1(),
    "sha1_ecdsa": hashes.SHA1(),
    "sha256_rsa": hashes.SHA256(),
    "sha256_ecdsa": hashes.SHA256(),
}


def resign(
    cert: x509.Certificate, signing_key: PrivateKey, algorithm: str | None, *, swap_validity: bool = False
) -> x509.Certificate:
    """``cert`` re-signed through asn1crypto with ``algorithm`` (``md5_rsa``, ``sha1_ecdsa``…; None: SHA-256
    for the key's type), which ``cryptography``'s builder refuses for the weak digests; ``swap_validity``
    exchanges notBefore and notAfter (which the builder refuses too). The result is a real, verifiable
    signature."""
    if algorithm is None:
        algorithm = "sha256_ecdsa" if isinstance(signing_key, ec.EllipticCurvePrivateKey) else "sha256_rsa"
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    if swap_validity:
        validity = tbs["validity"]
        tbs["validity"] = asn1_x509.Validity(
            {
                "not_before": asn1_x509.Time({"utc_time": validity["not_after"].native}),
                "not_after": asn1_x509.Time({"utc_time": validity["not_before"].native}),
            }
        )
    tbs["signature"] = asn1_algos.SignedDigestAlgorithm({"algorithm": algorithm})
    tbs_der = tbs.dump(force=True)
    digest = _RESIGN_HASHES[algorithm]
    if isinstance(signing_key, ec.EllipticCurvePrivateKey):
        signature = signing_key.sign(tbs_der, ec.ECDSA(digest))
    else:
        signature = signing_key.sign(tbs_der, padding.PKCS1v15(), digest)
    resigned = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": asn1_algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature_value": signature,
        }
    )
    return x509.load_der_x509_certificate(resigned.dump())


@dataclass(frozen=True)
class PemFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return pem(self.cert)

    @property
    def key_pem(self) -> bytes:
        return key_pem(self.key)

    def write(self, folder: Path, name: str) -> PemFiles:
        """``name.crt`` and ``name.key`` (mode 0600) in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        files = PemFiles(folder / f"{name}.crt", folder / f"{name}.key")
        files.cert.write_bytes(self.cert_pem)
        files.key.touch(mode=0o600)
        files.key.write_bytes(self.key_pem)
        return files


class ThrowawayCA:
    """A self-signed CA that issues leaf certificates (or, to test refusals, CA certificates)."""

    def __init__(self, name: str = "Notary test CA") -> None:
        key = rsa_key()
        signs_certificates = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        extensions = [
            (signs_certificates, True),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        ]
        self.root = Issued(key, certificate(name, key, ca=True, extensions=extensions))

    @property
    def cert_pem(self) -> bytes:
        return self.root.cert_pem

    def write_cert(self, path: Path) -> Path:
        """This CA's certificate as a PEM file, for the peers that trust it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.cert_pem)
        return path

    def issue(
        self,
        common_name: str,
        *,
        key: PrivateKey | None = None,
        ca: bool = False,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
        usage: x509.ObjectIdentifier | None = None,
        alt_names: Sequence[x509.GeneralName] = (),
    ) -> Issued:
        """A certificate for ``key`` (a new RSA key by default); ``usage`` is its one extended key usage."""
        key = key or rsa_key()
        extensions: list[Extension] = [
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()), False)
        ]
        if usage is not None:
            extensions.append((x509.ExtendedKeyUsage([usage]), False))
        if alt_names:
            extensions.append((x509.SubjectAlternativeName(alt_names), False))
        cert = certificate(
            common_name,
            key,
            (self.root.cert, self.root.key),
            ca=ca,
            valid_from=valid_from,
            valid_until=valid_until,
            extensions=extensions,
        )
        return Issued(key, cert)

    def server(self, name: str = "server") -> Issued:
        """A TLS server certificate for 127.0.0.1 and localhost."""
        loopback = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return self.issue(name, usage=ExtendedKeyUsageOID.SERVER_AUTH, alt_names=loopback)

    def client(self, name: str) -> Issued:
        """A TLS client certificate."""
        return self.issue(name, usage=ExtendedKeyUsageOID.CLIENT_AUTH, alt_names=[x509.DNSName(name)])

    def trusting_context(self, client: PemFiles | None = None) -> ssl.SSLContext:
        """A client-side context that trusts only this CA, presenting ``client``'s certificate if given."""
        context = ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))
        if client is not None:
            context.load_cert_chain(str(client.cert), str(client.key))
        return context


def redis_tls_files(folder: Path, ca: ThrowawayCA) -> RedisTls:
    """A Redis server certificate for 127.0.0.1 and a client certificate, both issued by ``ca``."""
    server = ca.server("redis").write(folder, "redis")
    client = ca.client("notary").write(folder, "client")
    ca_file = ca.write_cert(folder / "ca.pem")
    return RedisTls(ca_file, server.cert, server.key, client.cert, client.key)
