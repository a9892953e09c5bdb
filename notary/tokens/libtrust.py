"""The libtrust key id of a public key, as Docker's token verifiers match a token's ``kid`` against it.

SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32 (no padding), in 12 groups of 4 characters
joined by ``:``, e.g. ``PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6``.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

_DIGEST_BYTES = 30  # 240 bits: 48 base32 characters, no padding


def key_id(public_key: PublicKeyTypes) -> str:
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:_DIGEST_BYTES]).decode("ascii")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))
