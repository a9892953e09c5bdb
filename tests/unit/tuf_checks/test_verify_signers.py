"""valid_signers / meets_threshold / check_key_ids: notary's VerifySignatures counting rules (§5.3)."""

from __future__ import annotations

import base64
import json

import pytest

from notary.tuf.keys import PublicKey
from notary.tuf.verify import RoleKeys, check_key_ids, meets_threshold, valid_signers
from tests.support.tuf_builder import Key, encode_file, sign_file, signatures_for, targets_signed
from tests.unit.tuf_checks.helpers import EXPIRES, parse

SIGNED = targets_signed(expires=EXPIRES)


@pytest.fixture(scope="module")
def keys() -> list[Key]:
    return [Key.generate("ecdsa"), Key.generate("ed25519"), Key.generate("ecdsa")]


def _keymap(*keys: Key) -> dict[str, PublicKey]:
    return {key.key_id: key.public for key in keys}


def test_counts_each_valid_role_key(keys: list[Key]) -> None:
    a, b, c = keys
    metadata = parse("targets", sign_file(SIGNED, [a, b]))
    role = RoleKeys((a.key_id, b.key_id, c.key_id), 2)
    assert valid_signers(metadata, _keymap(a, b, c), role) == {a.key_id, b.key_id}
    assert meets_threshold(metadata, _keymap(a, b, c), role)
    assert not meets_threshold(metadata, _keymap(a, b, c), RoleKeys(role.keyids, 3))


def test_the_same_key_twice_counts_once(keys: list[Key]) -> None:
    a, b, _ = keys
    entries = signatures_for(SIGNED, [a, a])
    metadata = parse("targets", encode_file(SIGNED, entries))
    role = RoleKeys((a.key_id, b.key_id), 2)
    assert valid_signers(metadata, _keymap(a, b), role) == {a.key_id}
    assert not meets_threshold(metadata, _keymap(a, b), role)


def test_signature_by_a_key_outside_the_role_is_ignored(keys: list[Key]) -> None:
    a, b, _ = keys
    metadata = parse("targets", sign_file(SIGNED, [b]))
    # b is known but not in the role
    assert valid_signers(metadata, _keymap(a, b), RoleKeys((a.key_id,), 1)) == set()


def test_signature_with_an_unknown_keyid_is_ignored(keys: list[Key]) -> None:
    a, _, _ = keys
    entries = [{"keyid": "ab" * 32, "method": "ecdsa", "sig": base64.b64encode(b"x" * 64).decode()}]
    entries += signatures_for(SIGNED, [a])
    metadata = parse("targets", encode_file(SIGNED, entries))
    role = RoleKeys((a.key_id, "ab" * 32), 1)
    assert valid_signers(metadata, _keymap(a), role) == {a.key_id}


def test_role_key_missing_from_the_key_map_does_not_count(keys: list[Key]) -> None:
    a, b, _ = keys
    metadata = parse("targets", sign_file(SIGNED, [a, b]))
    role = RoleKeys((a.key_id, b.key_id), 2)
    assert valid_signers(metadata, _keymap(a), role) == {a.key_id}
    assert not meets_threshold(metadata, _keymap(a), role)


def test_invalid_signature_does_not_count(keys: list[Key]) -> None:
    a, _, _ = keys
    other = dict(SIGNED, version=2)
    entries = signatures_for(other, [a])  # a signature over different content
    metadata = parse("targets", encode_file(SIGNED, entries))
    assert valid_signers(metadata, _keymap(a), RoleKeys((a.key_id,), 1)) == set()


def test_signature_checks_the_canonical_form_not_the_bytes(keys: list[Key]) -> None:
    a, _, _ = keys
    metadata = parse("targets", sign_file(SIGNED, [a], pretty=True))
    assert meets_threshold(metadata, _keymap(a), RoleKeys((a.key_id,), 1))


def test_key_filed_under_a_foreign_id_does_not_count(keys: list[Key]) -> None:
    a, b, _ = keys
    entries = [dict(entry, keyid=b.key_id) for entry in signatures_for(SIGNED, [a])]
    metadata = parse("targets", encode_file(SIGNED, entries))
    # a's key under b's id: the signature verifies with that key, but the id is not the key's own
    assert valid_signers(metadata, {b.key_id: a.public}, RoleKeys((b.key_id,), 1)) == set()


def test_threshold_below_one_never_passes(keys: list[Key]) -> None:
    a, _, _ = keys
    metadata = parse("targets", sign_file(SIGNED, [a]))
    assert not meets_threshold(metadata, _keymap(a), RoleKeys((a.key_id,), 0))
    unsigned = parse("targets", encode_file(SIGNED, []))
    assert not meets_threshold(unsigned, {}, RoleKeys((), 0))


def test_no_signatures_meet_no_threshold(keys: list[Key]) -> None:
    a, _, _ = keys
    unsigned = parse("targets", encode_file(SIGNED, []))
    assert valid_signers(unsigned, _keymap(a), RoleKeys((a.key_id,), 1)) == set()


def test_check_key_ids_accepts_matching_ids(keys: list[Key]) -> None:
    check_key_ids({key.key_id: key.public for key in keys})
    check_key_ids({})


def test_check_key_ids_refuses_a_mismatch(keys: list[Key]) -> None:
    a, b, _ = keys
    with pytest.raises(ValueError, match=f"key ID {b.key_id} does not match"):
        check_key_ids({a.key_id: a.public, b.key_id: a.public})


def test_signed_bytes_are_left_alone(keys: list[Key]) -> None:
    a, _, _ = keys
    raw = sign_file(SIGNED, [a])
    metadata = parse("targets", raw)
    valid_signers(metadata, _keymap(a), RoleKeys((a.key_id,), 1))
    assert metadata.raw == raw
    assert json.loads(raw)["signed"] == SIGNED
