"""The pure TUF/notary domain: canonical JSON, Go time text, keys, key ids and signatures.

No I/O and no framework imports here (only the standard library, ``cryptography`` and ``asn1crypto``),
so the API, the workers and the signer can all share it. ``notary.tuf.signing`` holds private keys and
is meant for the signer process only, so it is not re-exported here.
"""

from notary.tuf.canonical import CanonicalJSONError, encode_canonical
from notary.tuf.keys import KEY_TYPES, InvalidKeyError, PublicKey, verify_signature
from notary.tuf.timefmt import format_go_time, parse_go_time

__all__ = [
    "KEY_TYPES",
    "CanonicalJSONError",
    "InvalidKeyError",
    "PublicKey",
    "encode_canonical",
    "format_go_time",
    "parse_go_time",
    "verify_signature",
]
