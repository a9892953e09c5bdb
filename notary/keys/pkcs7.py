"""PKCS#7 / CMS SignedData verified against pinned certificates only (the EC2 instance identity signature).

``cryptography`` parses and builds PKCS#7 but has no public verify, so this module parses the SignedData with
``asn1crypto`` (which also reads AWS's BER with indefinite lengths) and checks it by hand, the way
RFC 5652 section 5.4 and 5.6 describe:

1. the ContentInfo is a SignedData with exactly one SignerInfo, and the encapsulated content is ``data``;
2. the SignerInfo's IssuerAndSerialNumber names one of the **pinned** certificates. Certificates embedded
   in the PKCS7 are never read: a PKCS7 signed by a certificate that is not pinned, even one it carries
   itself, is rejected;
3. the signed content is the encapsulated content, or for a detached PKCS7 the ``document`` given; when both
   exist they must be equal byte for byte;
4. the signed attributes are present, ``content-type`` is ``data``, ``message-digest`` is the digest of the
   content under the SignerInfo's digest algorithm;
5. the signature verifies over the signed attributes re-tagged from ``[0] IMPLICIT`` to ``SET OF``, with the
   pinned certificate's public key.

Algorithms accepted (anything else is a :class:`PKCS7Error`):

========  =====================================  ==================================================
key       digest algorithms                      signature algorithm identifiers
========  =====================================  ==================================================
DSA       SHA-1, SHA-256                         ``dsa``, ``dsa-with-SHA1``, ``dsa-with-SHA256``
RSA       SHA-256, SHA-384, SHA-512              ``rsaEncryption``, ``sha{256,384,512}WithRSA``
          (PKCS#1 v1.5, key of 2048 bits or more)
ECDSA     SHA-256, SHA-384, SHA-512              ``ecdsa-with-SHA{256,384,512}``
========  =====================================  ==================================================

SHA-1 is accepted only with DSA keys: that is AWS's ``pkcs7`` signature (DSA-1024 / SHA-1), which cannot be
replaced by the client; ``sha1WithRSAEncryption`` and ``ecdsa-with-SHA1`` are known only to be refused with a
clear message. A signature algorithm identifier that names a digest must name the SignerInfo's.

The validity dates of a pinned certificate are deliberately not checked: AWS's own certificates have
expired while still in use, and pinning (not a chain) is what makes a certificate trusted here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa

__all__ = [
    "MAX_PKCS7_TEXT",
    "MIN_RSA_KEY_SIZE",
    "PKCS7Error",
    "VerifiedContent",
    "load_pkcs7",
    "verify_signed_data",
]

# An AWS pkcs7 is about 1 KiB of base64 (the rsa2048 one about 2 KiB); anything far bigger is not one.
MAX_PKCS7_TEXT: Final = 64 * 1024
MIN_RSA_KEY_SIZE: Final = 2048

_PEM_BEGIN: Final = "-----BEGIN PKCS7-----"
_PEM_END: Final = "-----END PKCS7-----"
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)

_OID_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
_OID_DATA: Final = "1.2.840.113549.1.7.1"
_OID_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME: Final = "1.2.840.113549.1.9.5"

# Digest algorithm OID -> (name, hash).
_DIGESTS: Final[dict[str, tuple[str, type[hashes.HashAlgorithm]]]] = {
    "1.3.14.3.2.26": ("sha1", hashes.SHA1),
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}

_DSA: Final = "dsa"
_RSA: Final = "rsa"
_ECDSA: Final = "ecdsa"

# Signature algorithm OID -> (key family, the digest it names or None for a bare key algorithm).
_SIGNATURE_ALGORITHMS: Final[dict[str, tuple[str, str | None]]] = {
    "1.2.840.10040.4.1": (_DSA, None),
    "1.2.840.10040.4.3": (_DSA, "sha1"),
    "2.16.840.1.101.3.4.3.2": (_DSA, "sha256"),
    "1.2.840.113549.1.1.1": (_RSA, None),
    "1.2.840.113549.1.1.5": (_RSA, "sha1"),
    "1.2.840.113549.1.1.11": (_RSA, "sha256"),
    "1.2.840.113549.1.1.12": (_RSA, "sha384"),
    "1.2.840.113549.1.1.13": (_RSA, "sha512"),
    "1.2.840.10045.4.1": (_ECDSA, "sha1"),
    "1.2.840.10045.4.3.2": (_ECDSA, "sha256"),
    "1.2.840.10045.4.3.3": (_ECDSA, "sha384"),
    "1.2.840.10045.4.3.4": (_ECDSA, "sha512"),
}

# Key family -> the digests allowed with it. SHA-1 only for DSA (AWS's pkcs7 path).
_ALLOWED_DIGESTS: Final[dict[str, frozenset[str]]] = {
    _DSA: frozenset({"sha1", "sha256"}),
    _RSA: frozenset({"sha256", "sha384", "sha512"}),
    _ECDSA: frozenset({"sha256", "sha384", "sha512"}),
}

# Everything asn1crypto raises for bad input while it parses lazily.
_PARSE_ERRORS: Final = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)


class PKCS7Error(Exception):
    """The PKCS7 is malformed, unsupported or does not verify. The message is safe to show a client: it is a
    fixed sentence and never carries key material or the content."""


@dataclass(frozen=True)
class VerifiedContent:
    """What a verified SignedData vouches for."""

    content: bytes
    """The signed bytes (the encapsulated content, or the document given for a detached PKCS7)."""
    signer_serial: int
    """The serial number of the pinned certificate that signed."""
    signing_time: datetime | None
    """The ``signing-time`` signed attribute (UTC), if present. Claimed by the signer, not checked here."""
    digest_algorithm: str
    """``sha1``, ``sha256``, ``sha384`` or ``sha512``."""


@dataclass(frozen=True)
class _SignerInfo:
    """The parts of a SignedData that verification needs, read out of asn1crypto into plain values."""

    content: bytes | None
    issuer: asn1_x509.Name
    serial: int
    digest_oid: str
    signature_oid: str
    signed_attrs: bytes
    content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    signature: bytes


def load_pkcs7(text: str) -> bytes:
    """The DER/BER bytes of a PKCS7 given PEM-armoured (``-----BEGIN PKCS7-----``) or as bare base64 (AWS's
    76-character lines). Whitespace anywhere in the base64 is ignored; anything else is a
    :class:`PKCS7Error`."""
    if not isinstance(text, str):
        raise PKCS7Error("the PKCS7 must be a string")
    if len(text) > MAX_PKCS7_TEXT:
        raise PKCS7Error("the PKCS7 is too large")
    body = text.strip()
    if body.startswith(_PEM_BEGIN):
        if not body.endswith(_PEM_END) or len(body) < len(_PEM_BEGIN) + len(_PEM_END):
            raise PKCS7Error("the PKCS7 PEM armour is not closed")
        body = body[len(_PEM_BEGIN) : -len(_PEM_END)]
    compact = "".join(body.split())
    if not compact:
        raise PKCS7Error("the PKCS7 is empty")
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        raise PKCS7Error("the PKCS7 is not valid base64")
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise PKCS7Error("the PKCS7 is not valid base64") from None
    if not der:
        raise PKCS7Error("the PKCS7 is empty")
    return der


def verify_signed_data(
    der: bytes, pinned: Sequence[x509.Certificate], *, document: bytes | None = None
) -> VerifiedContent:
    """Verify a PKCS7 SignedData against the ``pinned`` certificates only and return its signed content.

    ``document``, if given, is the content the caller expects: it must equal the encapsulated content byte
    for byte, or, for a detached PKCS7, it is the content that was signed. Raises :class:`PKCS7Error`."""
    signer = _parse(der)
    candidates = [cert for cert in pinned if _identifies(cert, signer.issuer, signer.serial)]
    if not candidates:
        raise PKCS7Error("the PKCS7 is not signed by a pinned certificate")

    if signer.digest_oid not in _DIGESTS:
        raise PKCS7Error("the PKCS7 digest algorithm is not supported")
    digest_name, digest_cls = _DIGESTS[signer.digest_oid]
    usable: list[tuple[x509.Certificate, str]] = []
    policy_error: PKCS7Error | None = None
    for cert in candidates:
        try:
            usable.append((cert, _check_algorithms(cert, signer.signature_oid, digest_name)))
        except PKCS7Error as error:
            policy_error = policy_error or error
    if not usable:
        assert policy_error is not None
        raise policy_error

    if signer.content is None:
        if document is None:
            raise PKCS7Error("the PKCS7 is detached and no document was given")
        content = bytes(document)
    else:
        content = signer.content
        if document is not None and not hmac.compare_digest(bytes(document), content):
            raise PKCS7Error("the document does not match the signed content")

    if signer.content_type is None:
        raise PKCS7Error("the PKCS7 has no content-type signed attribute")
    if signer.content_type != _OID_DATA:
        raise PKCS7Error("the PKCS7 content-type signed attribute is not data")
    if signer.message_digest is None:
        raise PKCS7Error("the PKCS7 has no message-digest signed attribute")
    if not hmac.compare_digest(hashlib.new(digest_name, content).digest(), signer.message_digest):
        raise PKCS7Error("the PKCS7 message digest does not match the signed content")

    for cert, family in usable:
        if _signature_verifies(cert, family, signer.signature, signer.signed_attrs, digest_cls()):
            return VerifiedContent(
                content=content,
                signer_serial=signer.serial,
                signing_time=signer.signing_time,
                digest_algorithm=digest_name,
            )
    raise PKCS7Error("the PKCS7 signature does not verify")


def _parse(der: bytes) -> _SignerInfo:
    if not isinstance(der, bytes | bytearray | memoryview):
        raise PKCS7Error("the PKCS7 must be bytes")
    try:
        return _read(bytes(der))
    except _PARSE_ERRORS:
        raise PKCS7Error("the PKCS7 is malformed") from None


def _read(der: bytes) -> _SignerInfo:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != _OID_SIGNED_DATA:
        raise PKCS7Error("the PKCS7 is not a SignedData")
    signed_data = info["content"]
    if not isinstance(signed_data, cms.SignedData):
        raise PKCS7Error("the PKCS7 is malformed")

    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != _OID_DATA:
        raise PKCS7Error("the PKCS7 content is not of type data")
    content: bytes | None
    embedded = encap["content"]
    if isinstance(embedded, core.Void):
        content = None
    elif isinstance(embedded, core.OctetString):
        content = embedded.native
        if not isinstance(content, bytes):
            raise PKCS7Error("the PKCS7 is malformed")
    else:
        raise PKCS7Error("the PKCS7 is malformed")

    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise PKCS7Error("the PKCS7 must have exactly one signer")
    signer = signer_infos[0]
    sid = signer["sid"]
    if sid.name != "issuer_and_serial_number":
        raise PKCS7Error("the PKCS7 signer identifier is not supported")
    issuer = sid.chosen["issuer"]
    serial = sid.chosen["serial_number"].native
    if not isinstance(issuer, asn1_x509.Name) or not isinstance(serial, int):
        raise PKCS7Error("the PKCS7 is malformed")

    attrs = signer["signed_attrs"]
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        raise PKCS7Error("the PKCS7 has no signed attributes")
    seen: set[str] = set()
    content_type: str | None = None
    message_digest: bytes | None = None
    signing_time: datetime | None = None
    for attr in attrs:
        oid = attr["type"].dotted
        if oid in seen:
            raise PKCS7Error("the PKCS7 repeats a signed attribute")
        seen.add(oid)
        if oid not in (_OID_CONTENT_TYPE, _OID_MESSAGE_DIGEST, _OID_SIGNING_TIME):
            continue
        values = attr["values"]
        if len(values) != 1:
            raise PKCS7Error("the PKCS7 has a signed attribute without exactly one value")
        if oid == _OID_CONTENT_TYPE:
            content_type = values[0].dotted
        elif oid == _OID_MESSAGE_DIGEST:
            message_digest = values[0].native
            if not isinstance(message_digest, bytes):
                raise PKCS7Error("the PKCS7 is malformed")
        else:
            signing_time = values[0].native
            if not isinstance(signing_time, datetime) or signing_time.tzinfo is None:
                raise PKCS7Error("the PKCS7 signing time is malformed")
            signing_time = signing_time.astimezone(UTC)
    # The signature covers the DER of the attributes as a SET OF, not as the [0] IMPLICIT field.
    signed_attrs = b"\x31" + attrs.dump()[1:]

    signature = signer["signature"].native
    if not isinstance(signature, bytes):
        raise PKCS7Error("the PKCS7 is malformed")
    return _SignerInfo(
        content=content,
        issuer=issuer,
        serial=serial,
        digest_oid=signer["digest_algorithm"]["algorithm"].dotted,
        signature_oid=signer["signature_algorithm"]["algorithm"].dotted,
        signed_attrs=signed_attrs,
        content_type=content_type,
        message_digest=message_digest,
        signing_time=signing_time,
        signature=signature,
    )


def _identifies(cert: x509.Certificate, issuer: asn1_x509.Name, serial: int) -> bool:
    """Whether ``cert`` is the one an IssuerAndSerialNumber names (names compared as RFC 5280 says)."""
    if cert.serial_number != serial:
        return False
    issuer_der = cert.issuer.public_bytes()
    if issuer_der == issuer.dump():  # the usual case, decided without the costly RFC 5280 string preparation
        return True
    try:
        return bool(asn1_x509.Name.load(issuer_der) == issuer)
    except _PARSE_ERRORS:
        return False


def _check_algorithms(cert: x509.Certificate, signature_oid: str, digest_name: str) -> str:
    """The key family of ``cert`` if the SignerInfo's algorithms are allowed with it."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise PKCS7Error("the pinned certificate's key type is not supported") from None
    if isinstance(key, dsa.DSAPublicKey):
        family = _DSA
    elif isinstance(key, rsa.RSAPublicKey):
        family = _RSA
        if key.key_size < MIN_RSA_KEY_SIZE:
            raise PKCS7Error("the pinned certificate's RSA key is too small")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        family = _ECDSA
    else:
        raise PKCS7Error("the pinned certificate's key type is not supported")
    if signature_oid not in _SIGNATURE_ALGORITHMS:
        raise PKCS7Error("the PKCS7 signature algorithm is not supported")
    sig_family, sig_digest = _SIGNATURE_ALGORITHMS[signature_oid]
    if sig_family != family:
        raise PKCS7Error("the PKCS7 signature algorithm does not match the pinned certificate's key")
    if sig_digest is not None and sig_digest != digest_name:
        raise PKCS7Error("the PKCS7 signature algorithm does not match its digest algorithm")
    if digest_name not in _ALLOWED_DIGESTS[family]:
        if digest_name == "sha1":
            raise PKCS7Error("SHA-1 is only accepted with DSA keys")
        raise PKCS7Error("the PKCS7 digest algorithm is not accepted with this key type")
    return family


def _signature_verifies(
    cert: x509.Certificate, family: str, signature: bytes, data: bytes, digest: hashes.HashAlgorithm
) -> bool:
    key = cert.public_key()
    try:
        if family == _DSA and isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, digest)
        elif family == _RSA and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif family == _ECDSA and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(digest))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True
