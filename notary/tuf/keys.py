"""TUF public keys as notary writes them, their key ids, and signature verification.

A key is ``{"keytype": T, "keyval": {"private": null, "public": "<base64>"}}`` and its id is the hex
SHA-256 of that object's canonical JSON, so the id depends on the exact base64 text: we keep the text
as received and only accept text in canonical form (see ``_encoding``).

What ``public`` holds depends on the type:

=====================  =========================================================================
``ecdsa``, ``rsa``     DER SubjectPublicKeyInfo (``rsa`` may also be a PEM public key, for the
                       legacy ``pycrypto-pkcs#1 pss`` signatures)
``ecdsa-x509``,        the PEM *text* of an X.509 certificate (root keys from ``notary init``,
``rsa-x509``           delegation keys added from a cert)
``ed25519``            the raw 32-byte key (the reference server's timestamp/snapshot keys)
=====================  =========================================================================
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64encode
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from notary.tuf import _encoding, _schemes
from notary.tuf._encoding import CryptoPublicKey
from notary.tuf.canonical import encode_canonical

__all__ = ["KEY_TYPES", "CryptoPublicKey", "InvalidKeyError", "PublicKey", "verify_signature"]

KEY_TYPES: Final = ("ecdsa", "ecdsa-x509", "ed25519", "rsa", "rsa-x509")

_X509_TYPES: Final = frozenset({"ecdsa-x509", "rsa-x509"})
# The crypto family each key type must decode to; a cert or SPKI of the other family is an invalid key.
_FAMILY: Final[
    dict[str, type[ec.EllipticCurvePublicKey] | type[ed25519.Ed25519PublicKey] | type[rsa.RSAPublicKey]]
] = {
    "ecdsa": ec.EllipticCurvePublicKey,
    "ecdsa-x509": ec.EllipticCurvePublicKey,
    "ed25519": ed25519.Ed25519PublicKey,
    "rsa": rsa.RSAPublicKey,
    "rsa-x509": rsa.RSAPublicKey,
}
_PEM_PREFIX: Final = b"-----BEGIN "


class InvalidKeyError(ValueError):
    """A key object that notary would not accept, or key material that does not decode."""


@dataclass(frozen=True)
class PublicKey:
    """One TUF public key. ``public`` is the base64 text exactly as in ``keyval.public``.

    Constructing one checks the type and the base64 text; whether the bytes inside are a usable key is
    only found out by ``crypto_key()`` (and so by ``verify_signature``), since a root may legitimately be
    read without ever using every key in it.
    """

    keytype: str
    public: str

    def __post_init__(self) -> None:
        if self.keytype not in KEY_TYPES:
            raise InvalidKeyError(f"unknown keytype {self.keytype!r}")
        if not isinstance(self.public, str):
            raise InvalidKeyError("keyval.public must be a base64 string")
        try:
            raw = _encoding.decode_base64(self.public)
        except ValueError as exc:
            raise InvalidKeyError(f"keyval.public: {exc}") from exc
        if not raw:
            raise InvalidKeyError("keyval.public is empty")

    @classmethod
    def from_dict(cls, data: object) -> PublicKey:
        """Read ``{"keytype": T, "keyval": {"public": b64, "private": null}}`` (private may be absent).

        Unknown extra members are ignored, as Go's decoder ignores them; they are not part of the key
        id either, because the id is computed over ``to_dict()``.
        """
        if not isinstance(data, dict):
            raise InvalidKeyError("a key must be a JSON object")
        keytype = data.get("keytype")
        keyval = data.get("keyval")
        if not isinstance(keytype, str):
            raise InvalidKeyError("key has no string keytype")
        if not isinstance(keyval, dict):
            raise InvalidKeyError("key has no keyval object")
        if keyval.get("private") is not None:
            # Public metadata must never carry private halves; and Go would hash them into the key id.
            raise InvalidKeyError("keyval.private must be null in public metadata")
        public = keyval.get("public")
        if not isinstance(public, str):
            raise InvalidKeyError("keyval.public must be a base64 string")
        return cls(keytype=keytype, public=public)

    def to_dict(self) -> dict[str, object]:
        return {"keytype": self.keytype, "keyval": {"private": None, "public": self.public}}

    @cached_property
    def key_id(self) -> str:
        """Lower-case hex SHA-256 of the canonical JSON of ``to_dict()``: notary's key id."""
        return hashlib.sha256(encode_canonical(self.to_dict())).hexdigest()

    def to_json_bytes(self) -> bytes:
        """The key as notary-server answers the ``.key`` endpoints: Go struct order, compact.

        Not canonical (``public`` comes before ``private``); clients parse it, nobody hashes it.
        """
        # Both strings are plain ASCII (a known keytype, canonical base64), so json.dumps and Go agree.
        return (
            f'{{"keytype":{json.dumps(self.keytype)},'
            f'"keyval":{{"public":{json.dumps(self.public)},"private":null}}}}'
        ).encode("ascii")

    @cached_property
    def raw(self) -> bytes:
        """The bytes the base64 ``public`` stands for (validated in ``__post_init__``)."""
        return _encoding.decode_base64(self.public)

    def certificate(self) -> x509.Certificate | None:
        """The X.509 certificate of an ``*-x509`` key (first PEM block); None for other key types."""
        if self.keytype not in _X509_TYPES:
            return None
        return self._certificate

    @cached_property
    def _certificate(self) -> x509.Certificate:
        try:
            return _encoding.load_certificate_pem(self.raw)
        except ValueError as exc:
            raise InvalidKeyError(f"{self.keytype} key does not hold a PEM certificate: {exc}") from exc

    def crypto_key(self) -> CryptoPublicKey:
        """The ``cryptography`` public key object; InvalidKeyError if the material does not decode."""
        return self._crypto_key

    @cached_property
    def _crypto_key(self) -> CryptoPublicKey:
        key: object
        try:
            if self.keytype == "ed25519":
                key = ed25519.Ed25519PublicKey.from_public_bytes(self.raw)
            elif self.keytype in _X509_TYPES:
                key = self._certificate.public_key()
            elif self.is_pem:
                block_type, der = _encoding.first_pem_block(self.raw)
                if block_type != "PUBLIC KEY":
                    raise ValueError(f"PEM block is {block_type!r}, not a PUBLIC KEY")
                key = _encoding.load_spki_der(der)
            else:
                key = _encoding.load_spki_der(self.raw)
        except (ValueError, TypeError) as exc:  # InvalidKeyError is a ValueError too
            raise InvalidKeyError(f"{self.keytype} key does not decode: {exc}") from exc
        family = _FAMILY[self.keytype]
        if not isinstance(key, family):
            raise InvalidKeyError(f"{self.keytype} key holds a {type(key).__name__}")
        try:
            _encoding.check_supported(key)
        except ValueError as exc:
            raise InvalidKeyError(str(exc)) from exc
        return key

    @property
    def is_pem(self) -> bool:
        """True for an ``rsa`` key given as PEM text rather than DER (pycrypto-style; Go treats it apart).

        Only ``rsa`` has such a form: Go parses ``ecdsa`` keys as DER only.
        """
        return self.keytype == "rsa" and self.raw.startswith(_PEM_PREFIX)

    @cached_property
    def canonical_key_id(self) -> str:
        """For x509 keys, the id of the plain ecdsa/rsa key of the cert's SPKI; else ``key_id``.

        The Go client names its private key files by this id, while metadata uses ``key_id``.
        """
        if self.keytype not in _X509_TYPES:
            return self.key_id
        plain_type = self.keytype.removesuffix("-x509")
        spki = _encoding.spki_der(self.crypto_key())
        return PublicKey(keytype=plain_type, public=b64encode(spki).decode("ascii")).key_id


# method (lower-cased) -> key types it may be used with; as notary's verifiers check it.
_METHOD_KEYTYPES: Final[dict[str, frozenset[str]]] = {
    "ecdsa": frozenset({"ecdsa", "ecdsa-x509"}),
    "eddsa": frozenset({"ed25519"}),
    "rsapss": frozenset({"rsa", "rsa-x509"}),
    "rsapkcs1v15": frozenset({"rsa", "rsa-x509"}),
    # notary's RSAPyCryptoVerifier: PSS, but only for "rsa" keys and only when the key is PEM text.
    "pycrypto-pkcs#1 pss": frozenset({"rsa"}),
}


def verify_signature(key: PublicKey, method: str, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` (raw bytes, already base64-decoded) by ``key`` over ``data`` is valid.

    ``method`` is matched case-insensitively, as notary does, and must fit the key type. Never raises
    for bad input (undecodable key, wrong method, garbage signature): the answer is then False.
    """
    if not isinstance(key, PublicKey) or not isinstance(method, str):
        return False
    if not isinstance(signature, bytes | bytearray | memoryview) or not isinstance(
        data, bytes | bytearray | memoryview
    ):
        return False
    scheme = method.lower()
    if key.keytype not in _METHOD_KEYTYPES.get(scheme, frozenset()):
        return False
    signature, data = bytes(signature), bytes(data)
    try:
        crypto = key.crypto_key()
        # Go parses "rsa" keys as DER for rsapss/rsapkcs1v15 and as PEM for pycrypto; the other form fails.
        if key.keytype == "rsa" and key.is_pem != (scheme == "pycrypto-pkcs#1 pss"):
            return False
        if isinstance(crypto, ec.EllipticCurvePublicKey):
            return _schemes.verify_ecdsa(crypto, signature, data)
        if isinstance(crypto, ed25519.Ed25519PublicKey):
            return _schemes.verify_ed25519(crypto, signature, data)
        if scheme == "rsapkcs1v15":
            return _schemes.verify_rsa_pkcs1v15(crypto, signature, data)
        return _schemes.verify_rsa_pss(crypto, signature, data)
    except (ValueError, TypeError):  # InvalidKeyError, and anything odd cryptography says about the input
        return False
