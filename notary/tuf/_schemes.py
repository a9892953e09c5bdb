"""The signature schemes of notary, on ``cryptography`` key objects (private helpers of keys/signing).

Each ``verify_*`` answers True or False and never raises on a bad signature; the caller has already
picked the scheme from the signature's ``method`` and checked that it fits the key's type.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

__all__ = [
    "MIN_RSA_BITS",
    "PSS_SALT_LENGTH",
    "ecdsa_der_to_raw",
    "ecdsa_signature_size",
    "pss_padding",
    "verify_ecdsa",
    "verify_ed25519",
    "verify_rsa_pkcs1v15",
    "verify_rsa_pss",
]

# notary refuses RSA keys below 2048 bits, and RSA signatures shorter than 2048 bits.
MIN_RSA_BITS = 2048
# Go signs with rsa.PSSSaltLengthEqualsHash, i.e. 32 bytes for SHA-256, and verifies exactly that.
PSS_SALT_LENGTH = 32


def pss_padding() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


def ecdsa_signature_size(curve: ec.EllipticCurve) -> int:
    """Length of a raw r‖s signature: both halves padded to the curve's byte size (64 for P-256)."""
    return 2 * ((curve.key_size + 7) // 8)


def ecdsa_der_to_raw(der: bytes, curve: ec.EllipticCurve) -> bytes:
    """Turn ``cryptography``'s DER ECDSA signature into notary's raw fixed-width r‖s."""
    r, s = decode_dss_signature(der)
    half = ecdsa_signature_size(curve) // 2
    return r.to_bytes(half, "big") + s.to_bytes(half, "big")


def verify_ecdsa(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """Raw r‖s over SHA-256 whatever the curve (notary hashes with SHA-256 even on P-384/P-521)."""
    if len(signature) != ecdsa_signature_size(key.curve):
        return False
    half = len(signature) // 2
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def verify_ed25519(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def verify_rsa_pss(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    return _verify_rsa(key, signature, data, pss_padding())


def verify_rsa_pkcs1v15(key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    return _verify_rsa(key, signature, data, padding.PKCS1v15())


def _verify_rsa(
    key: rsa.RSAPublicKey, signature: bytes, data: bytes, scheme: padding.AsymmetricPadding
) -> bool:
    if key.key_size < MIN_RSA_BITS or len(signature) < MIN_RSA_BITS // 8:
        return False
    try:
        key.verify(signature, data, scheme, hashes.SHA256())
    except InvalidSignature:
        return False
    return True
