"""Test material: self-made certificates and PKCS7 SignedData built field by field.

``cryptography``'s ``PKCS7SignatureBuilder`` makes the well-formed RSA/ECDSA cases (the tests use it where
they can); this builder makes what it refuses to: DSA and SHA-1 signatures, missing or odd signed attributes,
wrong algorithm identifiers, several signers, an impersonated signer identifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | dsa.DSAPrivateKey | ec.EllipticCurvePrivateKey

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "md5": hashes.MD5,
}
# A fixed signing time: nothing here depends on today's date.
SIGNING_TIME = datetime(2021, 6, 1, 12, 0, 0, tzinfo=UTC)
_DEFAULT = object()


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(
    subject: str,
    key: PrivateKey,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: PrivateKey | None = None,
    serial: int = 1000,
    not_before: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2030, 1, 1, tzinfo=UTC),
    ca: bool = False,
) -> x509.Certificate:
    """A certificate for ``key``: self-signed unless ``issuer``/``issuer_key`` are given."""
    signer_key = issuer_key if issuer_key is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer.subject if issuer is not None else name(subject))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signer_key, hashes.SHA256())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def sign_raw(key: PrivateKey, data: bytes, digest: str) -> bytes:
    algorithm = HASHES[digest]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    if isinstance(key, dsa.DSAPrivateKey):
        return key.sign(data, algorithm)
    return key.sign(data, ec.ECDSA(algorithm))


def default_signature_algorithm(key: PrivateKey, digest: str) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsassa_pkcs1v15"
    if isinstance(key, dsa.DSAPrivateKey):
        return f"{digest}_dsa"
    return f"{digest}_ecdsa"


def signer_info(
    content: bytes,
    cert: x509.Certificate,
    key: PrivateKey,
    *,
    digest: str = "sha256",
    signature_algorithm: str | None = None,
    attributes: Any = _DEFAULT,
    sid_issuer: x509.Certificate | None = None,
    sid_serial: int | None = None,
    tamper_signature: bool = False,
) -> cms.SignerInfo:
    """A SignerInfo over ``content``. ``attributes`` replaces the default signed attributes (content-type
    data, message-digest, signing-time); ``None`` leaves them out (the signature then covers the content).
    ``sid_issuer``/``sid_serial`` name another certificate than the one whose key signs."""
    if attributes is _DEFAULT:
        attributes = [
            {"type": "content_type", "values": ["data"]},
            {"type": "message_digest", "values": [hashlib.new(digest, content).digest()]},
            {"type": "signing_time", "values": [cms.Time({"utc_time": SIGNING_TIME})]},
        ]
    named = sid_issuer if sid_issuer is not None else cert
    sid = cms.SignerIdentifier(
        {
            "issuer_and_serial_number": {
                "issuer": asn1_x509.Certificate.load(_der(named)).issuer,
                "serial_number": sid_serial if sid_serial is not None else named.serial_number,
            }
        }
    )
    fields: dict[str, Any] = {
        "version": "v1",
        "sid": sid,
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": {"algorithm": signature_algorithm or default_signature_algorithm(key, digest)},
        "signature": b"",
    }
    if attributes is not None:
        fields["signed_attrs"] = cms.CMSAttributes(attributes)
    info = cms.SignerInfo(fields)
    # With signed attributes the signature covers them re-tagged as SET OF, else the content itself.
    to_sign = b"\x31" + info["signed_attrs"].dump()[1:] if attributes is not None else content
    signature = sign_raw(key, to_sign, digest)
    if tamper_signature:
        signature = signature[:-6] + bytes([signature[-6] ^ 0x01]) + signature[-5:]
    info["signature"] = signature
    return info


def signed_data(
    content: bytes,
    signers: Sequence[cms.SignerInfo],
    *,
    detached: bool = False,
    certificates: Sequence[x509.Certificate] = (),
    content_type: str = "data",
    outer_type: str = "signed_data",
) -> bytes:
    """A ContentInfo around a SignedData with the given SignerInfos, DER-encoded."""
    encap: dict[str, Any] = {"content_type": content_type}
    if not detached:
        encap["content"] = content
    data: dict[str, Any] = {
        "version": "v1",
        "digest_algorithms": [dict(info["digest_algorithm"].native) for info in signers],
        "encap_content_info": encap,
        "signer_infos": list(signers),
    }
    if certificates:
        data["certificates"] = [asn1_x509.Certificate.load(_der(cert)) for cert in certificates]
    encoded: bytes = cms.ContentInfo({"content_type": outer_type, "content": cms.SignedData(data)}).dump()
    return encoded


def build(content: bytes, cert: x509.Certificate, key: PrivateKey, **kwargs: Any) -> bytes:
    """One signer, content embedded, no certificates: the common case."""
    detached = kwargs.pop("detached", False)
    certificates = kwargs.pop("certificates", ())
    content_type = kwargs.pop("content_type", "data")
    return signed_data(
        content,
        [signer_info(content, cert, key, **kwargs)],
        detached=detached,
        certificates=certificates,
        content_type=content_type,
    )


def flip_byte_in(der: bytes, needle: bytes, offset: int | None = None) -> bytes:
    """``der`` with one bit flipped inside the (single) occurrence of ``needle``."""
    start = der.find(needle)
    assert start >= 0
    assert der.find(needle, start + 1) < 0
    position = start + (offset if offset is not None else len(needle) // 2)
    return der[:position] + bytes([der[position] ^ 0x01]) + der[position + 1 :]
