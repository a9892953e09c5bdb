"""Server-held repository keys (timestamp, and snapshot when handed over).

Unlike notary-server, which mints a new key on every GET while no root exists, at most one *pending* key is
kept per (gun, role) until a root uses it: repeated GETs return the same key, and a rotation (POST) replaces
the pending key instead of piling up another.
"""

from __future__ import annotations

from notary.errors import InvalidRoleError
from notary.ports import KeyGenerator, ServerKeyStore, StoredKey

SERVER_ROLES = ("timestamp", "snapshot")


def check_server_role(role: str) -> str:
    if role not in SERVER_ROLES:
        raise InvalidRoleError(role)
    return role


def get_or_create_key(
    store: ServerKeyStore, generate: KeyGenerator, gun: str, role: str, algorithm: str
) -> StoredKey:
    check_server_role(role)
    existing = store.current(gun, role)
    if existing is not None:
        return existing
    return store.add_pending(gun, role, generate(gun, role, algorithm))


def rotate_key(
    store: ServerKeyStore, generate: KeyGenerator, gun: str, role: str, algorithm: str
) -> StoredKey:
    """A new pending key; it signs only once a root that lists it is published."""
    check_server_role(role)
    store.retire_pending(gun, role)
    return store.add_pending(gun, role, generate(gun, role, algorithm))
