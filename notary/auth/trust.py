"""The token issuer's trust anchors (``auth.options.rootcertbundle``) and the checks of a token's ``x5c``
certificate chain against them.

A chain is trusted when, walking from its leaf, some certificate is itself in the bundle or was issued by a
bundle certificate; every certificate on the way must have been issued (signature checked) by the next one,
every issuer must be a CA within its path length, and every certificate, anchor included, must be valid
now. Extended key usages are not checked (docker/distribution accepts any). Certificates signed with SHA-1
or MD5 and RSA keys under 2048 bits are refused.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notary.tuf.certs import MIN_RSA_BITS, weak_signature

# Longest x5c chain looked at; real ones are two or three certificates.
MAX_CHAIN = 8

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class UntrustedChainError(ValueError):
    pass


def libtrust_key_id(key: PublicKey) -> str:
    """docker/libtrust's key id: the first 240 bits of SHA-256 of the DER SubjectPublicKeyInfo, in base32,
    as 12 colon-separated groups of 4 characters."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def signing_key(certificate: x509.Certificate) -> PublicKey:
    """The certificate's key, if it is one a token may be signed with."""
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise UntrustedChainError(f"RSA key of {key.key_size} bits is too short")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UntrustedChainError("only EC and RSA keys may sign tokens")
    return key


@dataclass(frozen=True)
class TrustBundle:
    certificates: tuple[x509.Certificate, ...]
    keys_by_id: dict[str, PublicKey] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        keys: dict[str, PublicKey] = {}
        for certificate in self.certificates:
            try:
                key = signing_key(certificate)
            except UntrustedChainError:
                continue  # still an anchor for chains, just never a direct token key
            keys[libtrust_key_id(key)] = key
        object.__setattr__(self, "keys_by_id", keys)

    @classmethod
    def from_pem(cls, data: bytes) -> TrustBundle:
        """Raises ValueError when ``data`` holds no PEM certificate or a broken one."""
        certificates = tuple(x509.load_pem_x509_certificates(data))
        return cls(certificates)

    def verify_chain(self, chain: Sequence[x509.Certificate], now: datetime) -> PublicKey:
        """The leaf's key, when ``chain`` (leaf first) leads to the bundle."""
        if not chain or len(chain) > MAX_CHAIN:
            raise UntrustedChainError(f"a chain has 1 to {MAX_CHAIN} certificates")
        for certificate in chain:
            _check_certificate(certificate, now)
        refusals: list[str] = []
        for depth, certificate in enumerate(chain):
            if certificate in self.certificates or self._issued_by_bundle(certificate, depth, now, refusals):
                return signing_key(chain[0])
            if depth + 1 == len(chain):
                break
            _check_issued(certificate, chain[depth + 1], depth)
        raise UntrustedChainError(
            "the chain does not lead to a certificate of the bundle" + "".join(f"; {r}" for r in refusals)
        )

    def _issued_by_bundle(
        self, certificate: x509.Certificate, depth: int, now: datetime, refusals: list[str]
    ) -> bool:
        """Whether a bundle certificate issued ``certificate``; why those named as its issuer did not."""
        for anchor in self.certificates:
            if anchor.subject != certificate.issuer:
                continue
            try:
                _check_certificate(anchor, now)
                _check_issued(certificate, anchor, depth)
            except UntrustedChainError as refusal:
                refusals.append(str(refusal))
                continue
            return True
        return False


def _check_certificate(certificate: x509.Certificate, now: datetime) -> None:
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise UntrustedChainError(f"certificate {certificate.subject.rfc4514_string()} is not valid now")
    if weak_signature(certificate):
        raise UntrustedChainError(f"certificate {certificate.subject.rfc4514_string()} is signed with SHA-1")


def _check_issued(certificate: x509.Certificate, issuer: x509.Certificate, depth: int) -> None:
    """``issuer`` signed ``certificate``, and may: it is a CA whose path length allows the ``depth``
    intermediates below it (the leaf is at depth 0)."""
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        raise UntrustedChainError("an issuer is not a CA (no basic constraints)") from None
    if not constraints.ca:
        raise UntrustedChainError("an issuer is not a CA")
    if constraints.path_length is not None and depth > constraints.path_length:
        raise UntrustedChainError("an issuer's path length is exceeded")
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise UntrustedChainError("a certificate's signature does not verify with its issuer's key") from None
