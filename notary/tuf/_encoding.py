"""Decoding of key material the way notary's Go code decodes it (private helpers of ``keys``).

Key ids are hashes over the *text* of a key, so two spellings of the same key bytes are two different
keys. Go re-encodes what it parses; we instead refuse every input whose re-encoding would differ, so the
text we hash is always the text Go would hash, and Go clients can verify whatever we accept.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

__all__ = [
    "CryptoPublicKey",
    "check_supported",
    "decode_base64",
    "first_pem_block",
    "load_certificate_pem",
    "load_spki_der",
    "spki_der",
]

CryptoPublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey

# The curves Go's x509.ParsePKIXPublicKey accepts; notary's own tools only make P-256.
_GO_CURVES = (ec.SECP224R1, ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

_PEM_BEGIN = b"-----BEGIN "
_PEM_DASHES = b"-----"


def decode_base64(text: str) -> bytes:
    """Decode standard padded base64, refusing anything that does not re-encode to exactly ``text``.

    Go's decoder skips newlines and ignores stray low bits, then re-encodes canonically when computing
    a key id; refusing non-canonical text keeps our key ids (hashes of the text) equal to Go's.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not valid base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("base64 is not in canonical form")
    return raw


def first_pem_block(data: bytes) -> tuple[str, bytes]:
    """Return (type, DER body) of the first PEM block, as Go's ``pem.Decode`` picks it.

    notary's verifiers look only at the first block, so a certificate hidden behind another block
    does not count, even though ``cryptography``'s PEM loaders would skip ahead to it. Scanning is
    linear (no regex backtracking), since the text comes from clients.
    """
    if data.startswith(_PEM_BEGIN):
        start = 0
    else:
        newline = data.find(b"\n" + _PEM_BEGIN)
        if newline < 0:
            raise ValueError("no PEM block found")
        start = newline + 1
    line_end = data.find(b"\n", start)
    if line_end < 0:
        raise ValueError("PEM BEGIN line is not terminated")
    begin_line = data[start:line_end].rstrip(b" \t\r")
    block_type = begin_line[len(_PEM_BEGIN) :].removesuffix(_PEM_DASHES)
    if not block_type or len(block_type) + len(_PEM_BEGIN) + len(_PEM_DASHES) != len(begin_line):
        raise ValueError("malformed PEM BEGIN line")
    # Searching from line_end (the newline of the BEGIN line) also finds an END right after it.
    end = data.find(b"\n-----END " + block_type + _PEM_DASHES, line_end)
    if end < 0:
        raise ValueError("PEM block has no matching END line")
    body = b"".join(data[line_end + 1 : end].split())
    try:
        der = base64.b64decode(body, validate=True)
    except binascii.Error as exc:  # also catches PEM headers ("Proc-Type: ..."), which we do not support
        raise ValueError("PEM body is not valid base64") from exc
    return block_type.decode("ascii", "replace"), der


def load_certificate_pem(data: bytes) -> x509.Certificate:
    """Load the certificate that must be the first PEM block of ``data``."""
    block_type, der = first_pem_block(data)
    if block_type != "CERTIFICATE":
        raise ValueError(f"first PEM block is {block_type!r}, not a CERTIFICATE")
    return x509.load_der_x509_certificate(der)


def load_spki_der(der: bytes) -> CryptoPublicKey:
    """Load a DER SubjectPublicKeyInfo, refusing forms Go's ``x509.ParsePKIXPublicKey`` refuses.

    ``cryptography`` is more lenient (it takes PKCS#1 RSA keys, compressed EC points, RSA without the
    NULL parameters); requiring the DER to equal our own re-serialisation rules all of those out.
    """
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise ValueError(f"unsupported public key type {type(key).__name__}")
    check_supported(key)
    if spki_der(key) != der:
        raise ValueError("not a canonical DER SubjectPublicKeyInfo")
    return key


def check_supported(key: CryptoPublicKey) -> None:
    """Refuse EC curves Go cannot parse (a signature with one could never be checked by a Go client)."""
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, _GO_CURVES):
        raise ValueError(f"unsupported elliptic curve {key.curve.name}")


def spki_der(key: CryptoPublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``key`` (what Go's ``x509.MarshalPKIXPublicKey`` writes)."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
