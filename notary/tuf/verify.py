"""Counting a role's valid signatures on a metadata file, as notary's ``signed.VerifySignatures`` does.

A signature whose keyid is not one of the role's keys (or has no key) is ignored; the threshold counts
distinct keyids with a valid signature over the canonical JSON of ``signed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from notary.tuf.keys import PublicKey, verify_signature
from notary.tuf.metadata import SignedMetadata

__all__ = ["RoleKeys", "check_key_ids", "meets_threshold", "valid_signers"]


@dataclass(frozen=True)
class RoleKeys:
    """Who may sign a role: these key ids, at least ``threshold`` of them."""

    keyids: tuple[str, ...]
    threshold: int


def valid_signers(metadata: SignedMetadata, keys: Mapping[str, PublicKey], role: RoleKeys) -> set[str]:
    """The distinct keyids of ``role`` (present in ``keys``) that validly signed ``metadata``."""
    allowed = set(role.keyids)
    data = metadata.canonical_signed
    valid: set[str] = set()
    for signature in metadata.signatures:
        keyid = signature.keyid
        if keyid in valid or keyid not in allowed:
            continue
        key = keys.get(keyid)
        # A key filed under an id that is not its own never counts (notary: ErrInvalidKeyID).
        if key is None or key.key_id != keyid:
            continue
        if verify_signature(key, signature.method, signature.sig, data):
            valid.add(keyid)
    return valid


def meets_threshold(metadata: SignedMetadata, keys: Mapping[str, PublicKey], role: RoleKeys) -> bool:
    """True if at least ``role.threshold`` distinct role keys signed; a threshold below 1 never passes."""
    if role.threshold < 1:
        return False
    return len(valid_signers(metadata, keys, role)) >= role.threshold


def check_key_ids(keys: Mapping[str, PublicKey]) -> None:
    """Raise ValueError if a key is filed under an id that is not its computed key id."""
    for declared, key in keys.items():
        if declared != key.key_id:
            raise ValueError(f"key ID {declared} does not match its key content (ID {key.key_id})")
