"""notary.server_keys against an in-memory ServerKeyStore and a generator built on the real signing code."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from notary.errors import InvalidRoleError
from notary.ports import SealedKey, StoredKey
from notary.sealing import associated_data, seal, unseal
from notary.server_keys import SERVER_ROLES, check_server_role, get_or_create_key, rotate_key
from notary.tuf.keys import verify_signature
from notary.tuf.signing import generate_private_key, public_key_for, sign

KEKS = (("kek-1", bytes(range(32))),)
GUN = "docker.io/library/alpine"


class InMemoryKeyStore:
    """A fake of the ServerKeyStore port (passing it where the port is expected lets mypy check the fit)."""

    def __init__(self) -> None:
        self.rows: list[tuple[StoredKey, SealedKey]] = []

    def _with_status(self, gun: str, role: str, status: str) -> StoredKey | None:
        found = [key for key, _ in self.rows if (key.gun, key.role, key.status) == (gun, role, status)]
        assert len(found) <= 1, f"more than one {status} key for {gun} {role}"
        return found[0] if found else None

    def current(self, gun: str, role: str) -> StoredKey | None:
        return self._with_status(gun, role, "active") or self._with_status(gun, role, "pending")

    def pending(self, gun: str, role: str) -> StoredKey | None:
        return self._with_status(gun, role, "pending")

    def add_pending(self, gun: str, role: str, key: SealedKey) -> StoredKey:
        existing = self.pending(gun, role)
        if existing is not None:
            return existing
        stored = StoredKey(gun, role, key.public_key, key.algorithm, "pending", datetime.now(UTC))
        self.rows.append((stored, key))
        return stored

    def retire_pending(self, gun: str, role: str) -> None:
        self.rows = [
            (dataclasses.replace(key, status="superseded"), sealed)
            if (key.gun, key.role, key.status) == (gun, role, "pending")
            else (key, sealed)
            for key, sealed in self.rows
        ]

    def sealed_for(self, stored: StoredKey) -> SealedKey:
        return next(sealed for key, sealed in self.rows if key.public_key == stored.public_key)

    def statuses(self, gun: str, role: str) -> list[str]:
        return [key.status for key, _ in self.rows if (key.gun, key.role) == (gun, role)]


class SealingGenerator:
    """Makes a real key with notary.tuf.signing and seals its private half, as the signer does."""

    def __init__(self, keks: Sequence[tuple[str, bytes]]) -> None:
        self.keks = keks
        self.calls: list[tuple[str, str, str]] = []
        self.made: list[SealedKey] = []

    def __call__(self, gun: str, role: str, algorithm: str) -> SealedKey:
        self.calls.append((gun, role, algorithm))
        private = generate_private_key(algorithm)
        public = public_key_for(private)
        kek_id, sealed = seal(self.keks, private, associated_data(public.key_id, gun, role))
        key = SealedKey(public, algorithm, kek_id, sealed)
        self.made.append(key)
        return key


@pytest.fixture
def store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def generate() -> SealingGenerator:
    return SealingGenerator(KEKS)


def test_repeated_gets_return_the_same_key_and_generate_once(
    store: InMemoryKeyStore, generate: SealingGenerator
) -> None:
    first = get_or_create_key(store, generate, GUN, "timestamp", "ecdsa")
    again = [get_or_create_key(store, generate, GUN, "timestamp", "ecdsa") for _ in range(3)]

    assert all(key == first for key in again)
    assert generate.calls == [(GUN, "timestamp", "ecdsa")]
    assert first.public_key == generate.made[0].public_key
    assert (first.gun, first.role, first.algorithm, first.status) == (GUN, "timestamp", "ecdsa", "pending")
    assert store.statuses(GUN, "timestamp") == ["pending"]


def test_the_generated_key_is_usable_through_the_sealed_private_half(
    store: InMemoryKeyStore, generate: SealingGenerator
) -> None:
    stored = get_or_create_key(store, generate, GUN, "snapshot", "ecdsa")
    sealed = store.sealed_for(stored)
    private = unseal(
        KEKS, sealed.kek_id, sealed.sealed_private, associated_data(stored.public_key.key_id, GUN, "snapshot")
    )
    method, signature = sign(private, b"signed bytes")
    assert verify_signature(stored.public_key, method, signature, b"signed bytes")


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa"])
def test_the_algorithm_reaches_the_generator(
    store: InMemoryKeyStore, generate: SealingGenerator, algorithm: str
) -> None:
    key = get_or_create_key(store, generate, GUN, "timestamp", algorithm)
    assert generate.calls == [(GUN, "timestamp", algorithm)]
    assert key.public_key.keytype == algorithm
    assert key.algorithm == algorithm


def test_keys_are_per_gun_and_role(store: InMemoryKeyStore, generate: SealingGenerator) -> None:
    keys = {
        (gun, role): get_or_create_key(store, generate, gun, role, "ed25519")
        for gun in (GUN, "example.com/other")
        for role in SERVER_ROLES
    }
    assert len({key.public_key for key in keys.values()}) == 4
    assert len(generate.calls) == 4
    for (gun, role), key in keys.items():
        assert (key.gun, key.role) == (gun, role)


def test_rotate_retires_the_pending_key_and_returns_a_new_one(
    store: InMemoryKeyStore, generate: SealingGenerator
) -> None:
    before = get_or_create_key(store, generate, GUN, "timestamp", "ed25519")
    rotated = rotate_key(store, generate, GUN, "timestamp", "ed25519")

    assert rotated.public_key != before.public_key
    assert rotated.public_key == generate.made[-1].public_key
    assert rotated.status == "pending"
    assert len(generate.calls) == 2
    assert store.statuses(GUN, "timestamp") == ["superseded", "pending"]
    assert get_or_create_key(store, generate, GUN, "timestamp", "ed25519") == rotated
    assert len(generate.calls) == 2


def test_rotate_without_any_key_creates_one(store: InMemoryKeyStore, generate: SealingGenerator) -> None:
    rotated = rotate_key(store, generate, GUN, "snapshot", "ed25519")
    assert store.current(GUN, "snapshot") == rotated
    assert store.statuses(GUN, "snapshot") == ["pending"]


def test_rotate_leaves_other_roles_alone(store: InMemoryKeyStore, generate: SealingGenerator) -> None:
    snapshot = get_or_create_key(store, generate, GUN, "snapshot", "ed25519")
    rotate_key(store, generate, GUN, "timestamp", "ed25519")
    assert store.current(GUN, "snapshot") == snapshot


def _add_active(store: InMemoryKeyStore, generate: SealingGenerator, role: str) -> StoredKey:
    made = generate(GUN, role, "ed25519")
    active = StoredKey(GUN, role, made.public_key, made.algorithm, "active", datetime.now(UTC))
    store.rows.append((active, made))
    return active


def test_the_active_key_wins_over_the_pending_one(
    store: InMemoryKeyStore, generate: SealingGenerator
) -> None:
    active = _add_active(store, generate, "timestamp")
    pending = store.add_pending(GUN, "timestamp", generate(GUN, "timestamp", "ed25519"))
    calls = len(generate.calls)

    assert get_or_create_key(store, generate, GUN, "timestamp", "ed25519") == active
    assert len(generate.calls) == calls
    assert store.pending(GUN, "timestamp") == pending


def test_rotate_with_an_active_key_keeps_it_until_a_root_uses_the_new_one(
    store: InMemoryKeyStore, generate: SealingGenerator
) -> None:
    active = _add_active(store, generate, "timestamp")
    rotated = rotate_key(store, generate, GUN, "timestamp", "ed25519")
    assert rotated.status == "pending"
    assert rotated.public_key != active.public_key
    assert store.current(GUN, "timestamp") == active


@pytest.mark.parametrize("role", ["root", "targets", "targets/releases", "", "Timestamp", "timestamp.key"])
def test_invalid_roles_are_rejected_before_touching_the_store(
    store: InMemoryKeyStore, generate: SealingGenerator, role: str
) -> None:
    for operation in (get_or_create_key, rotate_key):
        with pytest.raises(InvalidRoleError) as caught:
            operation(store, generate, GUN, role, "ecdsa")
        assert caught.value.to_dict() == {
            "code": "INVALID_ROLE",
            "message": "The role you are attempting to operate on is invalid.",
            "detail": role,
        }
        assert caught.value.status == 400
    assert generate.calls == []
    assert store.rows == []


@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
def test_check_server_role_accepts_the_server_roles(role: str) -> None:
    assert check_server_role(role) == role
