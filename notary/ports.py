"""The collaborators the domain needs, as Protocols. ``models`` implements the stores; tests may pass
fakes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from notary.tuf.keys import PublicKey


@dataclass(frozen=True)
class StoredKey:
    """A server-held key as the non-signer side may see it: public half and status, never the private half."""

    gun: str
    role: str
    public_key: PublicKey
    algorithm: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class SealedKey:
    """A freshly generated key, its private half already sealed under the signer's KEK."""

    public_key: PublicKey
    algorithm: str
    kek_id: str
    sealed_private: bytes


class ServerKeyStore(Protocol):
    def current(self, gun: str, role: str) -> StoredKey | None:
        """The key that signs for (gun, role) now: the active one, else the pending one."""

    def pending(self, gun: str, role: str) -> StoredKey | None: ...

    def add_pending(self, gun: str, role: str, key: SealedKey) -> StoredKey:
        """Store ``key`` as the pending key; if another pending key won a race, return that one instead."""

    def retire_pending(self, gun: str, role: str) -> None:
        """Mark the pending key (if any) as superseded, freeing the pending slot for a new one."""


class KeyGenerator(Protocol):
    def __call__(self, gun: str, role: str, algorithm: str) -> SealedKey: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
