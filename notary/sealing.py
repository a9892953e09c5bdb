"""Private keys at rest: AES-256-GCM under a key-encryption key (KEK) named by id.

The associated data binds a ciphertext to the row it belongs to (key id, GUN, role), so a sealed key copied
into another row does not open. A sealed blob is ``nonce (12 bytes) || ciphertext+tag``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


class SealingError(Exception):
    """A sealed key could not be opened: unknown KEK id or authentication failure. Carries no secret."""


def associated_data(*parts: str) -> bytes:
    return "\x1f".join(parts).encode()


def seal(keks: Sequence[tuple[str, bytes]], plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
    """Encrypt under the first (active) KEK; returns (kek_id, sealed blob)."""
    kek_id, kek = keks[0]
    nonce = os.urandom(NONCE_BYTES)
    return kek_id, nonce + AESGCM(kek).encrypt(nonce, plaintext, aad)


def unseal(keks: Sequence[tuple[str, bytes]], kek_id: str, sealed: bytes, aad: bytes) -> bytes:
    kek = dict(keks).get(kek_id)
    if kek is None:
        raise SealingError(f"no key-encryption key with id {kek_id!r} is configured")
    try:
        return AESGCM(kek).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):  # ValueError: a blob too short to hold a nonce
        raise SealingError(f"sealed key does not authenticate under key-encryption key {kek_id!r}") from None


def reseal(keks: Sequence[tuple[str, bytes]], kek_id: str, sealed: bytes, aad: bytes) -> tuple[str, bytes]:
    """Open a blob sealed under ``kek_id`` and seal it again under the first KEK (a KEK rotation)."""
    return seal(keks, unseal(keks, kek_id, sealed, aad), aad)


def server_key_aad(key_id: str, gun: str, role: str) -> bytes:
    """A server key's private half is bound to its key id, repository and role."""
    return associated_data(key_id, gun, role)


def shared_key_aad(identity: str) -> bytes:
    """A shared key's secret is bound to its identity."""
    return associated_data("shared-key", identity)


def derived_mac_keys(keks: Sequence[tuple[str, bytes]], purpose: str) -> tuple[bytes, ...]:
    """One MAC key per KEK for ``purpose`` (HKDF-SHA256, so a KEK is never used as a MAC key itself); the
    first one authenticates, any of them verifies, as during a KEK rotation."""
    return tuple(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(kek)
        for _, kek in keks
    )
