"""Which X.509 root keys notary-server accepts (its ``ValidateRoot`` and ``ValidateCertificate``).

A root key is an ``ecdsa-x509``/``rsa-x509`` key whose PEM holds a certificate bundle: exactly one leaf
(non-CA) certificate, first in the bundle, possibly followed by CA (intermediate) certificates. The
leaf's CN must name the GUN (or be a prefix of it ending in ``*``); the leaf must have a sane validity
window, not be signed with SHA-1 (nor MD5), hold an RSA key of at least 2048 bits if RSA, and, for a new
root, be valid now with one day of leeway on notBefore. The previous root's certificates, used to
cross-sign a rotation, are checked without the clock: trust once established survives their expiry.

Each check returns None when the key is acceptable, else a short reason (for logs; notary itself only
reports that no valid leaf certificate was found).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from notary.tuf.keys import InvalidKeyError, PublicKey

__all__ = [
    "MIN_RSA_BITS",
    "check_root_certificate",
    "check_rotation_certificate",
    "cn_matches_gun",
    "weak_signature",
]

MIN_RSA_BITS: Final = 2048
X509_KEY_TYPES: Final = frozenset({"ecdsa-x509", "rsa-x509"})
NOT_BEFORE_LEEWAY: Final = timedelta(days=1)
_WILDCARD: Final = "*"
_WEAK_SIGNATURE_OIDS: Final = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_MD5,
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID._RSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.DSA_WITH_SHA1,
    }
)


def cn_matches_gun(common_name: str, gun: str) -> bool:
    """notary's ``MatchCNToGun``: equal, or a CN ending in ``*`` whose prefix starts the GUN."""
    if common_name.endswith(_WILDCARD):
        return gun.startswith(common_name.rstrip(_WILDCARD))
    return common_name == gun


def check_root_certificate(key: PublicKey, gun: str, now: datetime) -> str | None:
    """None if ``key`` may be a root key of ``gun`` at ``now``; otherwise why not."""
    leaf = _leaf_certificate(key)
    if isinstance(leaf, str):
        return leaf
    common_name = _common_name(leaf)
    if common_name is None:
        return "certificate has no common name"
    if not cn_matches_gun(common_name, gun):
        return f"certificate CN {common_name!r} does not match the GUN {gun!r}"
    reason = _check_certificate(key, leaf, common_name)
    if reason is not None:
        return reason
    if now + NOT_BEFORE_LEEWAY < leaf.not_valid_before_utc:
        return f"certificate with CN {common_name} is not valid yet"
    if now > leaf.not_valid_after_utc:
        return f"certificate with CN {common_name} is expired"
    return None


def check_rotation_certificate(key: PublicKey, now: datetime) -> str | None:
    """None if ``key``, a root key of the previous root, may cross-sign a rotation; otherwise why not.

    Expiry is deliberately not checked (``now`` is unused; it is part of the signature so that callers
    treat both checks alike).
    """
    leaf = _leaf_certificate(key)
    if isinstance(leaf, str):
        return leaf
    return _check_certificate(key, leaf, _common_name(leaf) or "")


def _leaf_certificate(key: PublicKey) -> x509.Certificate | str:
    """The leaf certificate of an x509 key, or the reason there is no usable one."""
    if key.keytype not in X509_KEY_TYPES:
        return f"{key.keytype} key is not an X.509 certificate"
    try:
        leaf = key.certificate()
        key.crypto_key()  # the certificate's key must be of the key type's family
    except InvalidKeyError as exc:
        return str(exc)
    if leaf is None:  # pragma: no cover - x509 key types always have a certificate
        return "no certificate"
    # notary loads every certificate of the PEM bundle and wants exactly one leaf, first.
    try:
        bundle = x509.load_pem_x509_certificates(key.raw)
        first_is_ca = _is_ca(leaf)
        leaves = sum(1 for certificate in bundle if not _is_ca(certificate))
    except ValueError as exc:  # an unparsable certificate or extension
        return f"certificate bundle does not parse: {exc}"
    if first_is_ca:
        return "the first certificate is a CA certificate, not a leaf"
    if leaves != 1:
        return f"certificate bundle holds {leaves} leaf certificates, not one"
    return leaf


def _check_certificate(key: PublicKey, leaf: x509.Certificate, common_name: str) -> str | None:
    """notary's ``ValidateCertificate`` without the clock: window, signature hash, RSA size."""
    if leaf.not_valid_before_utc > leaf.not_valid_after_utc:
        return "certificate validity window is invalid"
    if weak_signature(leaf):
        return f"certificate with CN {common_name} uses an invalid SHA1 or MD5 signature algorithm"
    crypto = key.crypto_key()
    if isinstance(crypto, rsa.RSAPublicKey) and crypto.key_size < MIN_RSA_BITS:
        return f"RSA bit length is too short ({crypto.key_size} < {MIN_RSA_BITS})"
    return None


def weak_signature(certificate: x509.Certificate) -> bool:
    if certificate.signature_algorithm_oid in _WEAK_SIGNATURE_OIDS:
        return True
    try:
        algorithm = certificate.signature_hash_algorithm  # also covers RSA-PSS with a SHA-1 hash
    except UnsupportedAlgorithm:
        return False
    return isinstance(algorithm, hashes.SHA1 | hashes.MD5)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _common_name(certificate: x509.Certificate) -> str | None:
    """The subject CN as Go reads it: the last CN attribute."""
    attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attributes:
        return None
    value = attributes[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")
