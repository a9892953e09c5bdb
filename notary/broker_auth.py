"""How our processes authenticate each other over the broker, loaded and checked once at start-up.

Two layers, both optional:

- **Message signing** (``security.*``): each process signs the Celery messages it sends with its X.509
  certificate's RSA key and accepts only messages signed by a certificate in its trust store. Celery's
  ``auth`` serializer does the signing, but it checks neither CA flags, nor that a key matches its
  certificate, nor a certificate's start date; a certificate that is a CA, or whose key does not match, or
  that is not valid now, is refused here, naming the setting, so no process starts with it.
- **Redis over TLS** (``broker.tls_*`` with a ``rediss://`` broker): the CA that signed Redis's certificate
  and our client certificate, checked by building the TLS context the clients will use.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notary.errors import ConfigError
from notary.settings import Settings

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class SigningIdentity:
    """PEM texts for Celery's message signing: our key and certificate, and the certificates we trust."""

    key_pem: bytes = field(repr=False)  # kept out of repr, so never in a log line
    cert_pem: bytes
    trusted_pems: tuple[bytes, ...]


def check_broker_auth(settings: Settings) -> None:
    """Refuse to start (ConfigError) on any unusable certificate, key or TLS file."""
    load_signing_identity(settings)
    check_broker_tls(settings)


def load_signing_identity(settings: Settings, now: datetime | None = None) -> SigningIdentity | None:
    """The checked identity, or None when message signing is not configured."""
    if not settings["security.key_file"]:
        return None
    now = now or datetime.now(UTC)
    key_pem = _read(settings, "security.key_file", secret=True)
    key = _rsa_private_key(settings, key_pem)
    cert_pem = _read(settings, "security.cert_file")
    certificate = _only_certificate(settings, "security.cert_file", cert_pem)
    _refuse_unusable(settings, "security.cert_file", certificate, now)
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if certificate.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        _fail(settings, "security.cert_file", "does not match the key of security.key_file")
    return SigningIdentity(key_pem, cert_pem, _trust_store(settings, now))


def check_broker_tls(settings: Settings, now: datetime | None = None) -> None:
    """Build the client TLS context once, so a missing, unreadable or mismatched file fails at start-up."""
    if not settings.broker_url.startswith("rediss://"):
        return
    context = ssl.create_default_context()
    ca_file = settings.path("broker.tls_ca_file")
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (OSError, ssl.SSLError) as exc:
            _fail(settings, "broker.tls_ca_file", f"cannot load CA certificates from {ca_file}: {exc}")
    cert_file, key_file = settings.path("broker.tls_cert_file"), settings.path("broker.tls_key_file")
    if cert_file is None or key_file is None:
        return
    # The first certificate is ours; any others are its chain.
    client_cert = _certificates(
        settings, "broker.tls_cert_file", _read(settings, "broker.tls_cert_file"), cert_file
    )[0]
    _refuse_unusable(settings, "broker.tls_cert_file", client_cert, now or datetime.now(UTC), rsa_only=False)
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        _fail(settings, "broker.tls_key_file", f"cannot load it with broker.tls_cert_file: {exc}")


def _trust_store(settings: Settings, now: datetime) -> tuple[bytes, ...]:
    """Every certificate of a bundle file, or of each file in a folder; each must be a usable peer."""
    key = "security.cert_store"
    store = settings.path(key)
    assert store is not None
    if store.is_dir():
        files = sorted(p for p in store.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        files = [store]
    trusted: list[bytes] = []
    seen: set[tuple[str, int]] = set()
    for path in files:
        for certificate in _certificates(settings, key, _read_path(settings, key, path), path):
            _refuse_unusable(settings, key, certificate, now, where=f" in {path}")
            identity = (certificate.issuer.rfc4514_string(), certificate.serial_number)
            if identity in seen:
                _fail(settings, key, f"two certificates share issuer and serial number in {path}")
            seen.add(identity)
            trusted.append(certificate.public_bytes(serialization.Encoding.PEM))
    if not trusted:
        _fail(settings, key, f"no certificate found in {store}")
    return tuple(trusted)


def _refuse_unusable(
    settings: Settings,
    key: str,
    certificate: x509.Certificate,
    now: datetime,
    *,
    rsa_only: bool = True,
    where: str = "",
) -> None:
    subject = certificate.subject.rfc4514_string() or "(empty subject)"
    if _is_ca(certificate):
        _fail(settings, key, f"certificate {subject}{where} is a CA; use a certificate that is not a CA")
    if now < certificate.not_valid_before_utc:
        _fail(
            settings,
            key,
            f"certificate {subject}{where} is not valid before {certificate.not_valid_before_utc}",
        )
    if now >= certificate.not_valid_after_utc:
        _fail(settings, key, f"certificate {subject}{where} expired at {certificate.not_valid_after_utc}")
    if rsa_only and not isinstance(certificate.public_key(), rsa.RSAPublicKey):
        _fail(
            settings, key, f"certificate {subject}{where} must hold an RSA key (Celery signs only with RSA)"
        )


def _is_ca(certificate: x509.Certificate) -> bool:
    """basicConstraints CA=true, or a key allowed to sign certificates (a CA in all but name)."""
    try:
        if certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        return certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        return False


def _rsa_private_key(settings: Settings, pem: bytes) -> rsa.RSAPrivateKey:
    key_name = "security.key_file"
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        _fail(
            settings,
            key_name,
            "the key is encrypted; give an unencrypted PEM key readable only by this service",
        )
    except ValueError:
        _fail(settings, key_name, "not a PEM private key")
    if not isinstance(key, rsa.RSAPrivateKey):
        _fail(settings, key_name, "must be an RSA key (Celery's message signing supports only RSA)")
    if key.key_size < MIN_RSA_BITS:
        _fail(settings, key_name, f"the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    return key


def _only_certificate(settings: Settings, key: str, pem: bytes) -> x509.Certificate:
    certificates = _certificates(settings, key, pem, settings.path(key))
    if len(certificates) != 1:
        _fail(settings, key, f"must hold exactly one certificate, found {len(certificates)}")
    return certificates[0]


def _certificates(settings: Settings, key: str, pem: bytes, path: Path | None) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        _fail(settings, key, f"no PEM certificate in {path}")


def _read(settings: Settings, key: str, *, secret: bool = False) -> bytes:
    """The file named by ``key``; a secret one's path stays out of the error (where a key lives is secret)."""
    path = settings.path(key)
    assert path is not None
    return _read_path(settings, key, path, "the key file" if secret else None)


def _read_path(settings: Settings, key: str, path: Path, shown_as: str | None = None) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _fail(settings, key, f"cannot read {shown_as or path}: {exc.strerror}")


def _fail(settings: Settings, key: str, problem: str) -> NoReturn:
    raise ConfigError(key, settings.source(key), problem)
