"""The private-key side: make keys and sign with them. Only the signer process imports this.

Private keys travel as unencrypted PKCS#8 DER bytes (the signer stores them sealed elsewhere); the
signatures come out in notary's wire formats so that Go clients verify them like their own.
"""

from __future__ import annotations

from base64 import b64encode
from typing import Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from notary.tuf import _encoding, _schemes
from notary.tuf.keys import PublicKey

__all__ = ["ALGORITHMS", "generate_private_key", "public_key_for", "sign"]

ALGORITHMS: Final = ("ecdsa", "ed25519", "rsa")

# notary's own tools make P-256 ECDSA keys; 3072-bit RSA is comfortably above notary's 2048-bit floor.
_RSA_BITS: Final = 3072
_RSA_PUBLIC_EXPONENT: Final = 65537

_PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


def generate_private_key(algorithm: str) -> bytes:
    """A new private key for ``algorithm`` (one of ALGORITHMS) as unencrypted PKCS#8 DER."""
    key: _PrivateKey
    if algorithm == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1())
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "rsa":
        key = rsa.generate_private_key(public_exponent=_RSA_PUBLIC_EXPONENT, key_size=_RSA_BITS)
    else:
        raise ValueError(f"unknown key algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_for(private_der: bytes) -> PublicKey:
    """The TUF public key of a PKCS#8 DER private key (plain ``ecdsa``/``ed25519``/``rsa`` types)."""
    key = _load(private_der)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(keytype="ed25519", public=b64encode(raw).decode("ascii"))
    keytype = "ecdsa" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    spki = _encoding.spki_der(key.public_key())
    return PublicKey(keytype=keytype, public=b64encode(spki).decode("ascii"))


def sign(private_der: bytes, data: bytes) -> tuple[str, bytes]:
    """Sign ``data``; return (method, signature) as they go into a TUF ``signatures`` entry.

    ecdsa → ("ecdsa", raw r‖s over SHA-256), ed25519 → ("eddsa", 64 bytes),
    rsa → ("rsapss", PSS/SHA-256/MGF1-SHA-256, 32-byte salt).
    """
    key = _load(private_der)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(data, ec.ECDSA(hashes.SHA256()))
        return "ecdsa", _schemes.ecdsa_der_to_raw(der, key.curve)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "eddsa", key.sign(data)
    return "rsapss", key.sign(data, _schemes.pss_padding(), hashes.SHA256())


def _load(private_der: bytes) -> _PrivateKey:
    """Load a PKCS#8 DER private key of a type we can sign with; ValueError otherwise."""
    try:
        key = serialization.load_der_private_key(private_der, password=None)
    except TypeError as exc:  # the key is encrypted
        raise ValueError(f"cannot load private key: {exc}") from exc
    if isinstance(key, ec.EllipticCurvePrivateKey):
        # A curve Go cannot parse would give a key no Go client could ever verify.
        _encoding.check_supported(key.public_key())
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        return key
    raise ValueError(f"unsupported private key type {type(key).__name__}")
