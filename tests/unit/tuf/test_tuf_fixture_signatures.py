"""Every signature the real Go client and notary-server produced must verify here, and only unaltered.

Keys come from all root files (``signed.keys``, which include the reference server's ed25519
timestamp/snapshot keys) and all targets files' delegation keys (the ``targets/releases`` cert key).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from notary.tuf.canonical import encode_canonical
from notary.tuf.keys import PublicKey, verify_signature

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notary"
SIGNED_FILES = sorted([*FIXTURES.glob("upload-*.json"), *FIXTURES.glob("served-*.json")])
# The fixture set is fixed: 28 signed files carrying 29 signatures (the root rotation is signed twice).
EXPECTED_FILES = 28
EXPECTED_SIGNATURES = 29


def _load(path: Path) -> Any:
    return json.loads(path.read_bytes())


def _key_map() -> dict[str, PublicKey]:
    keys: dict[str, PublicKey] = {}
    for path in SIGNED_FILES:
        signed = _load(path)["signed"]
        found = {**signed.get("keys", {}), **(signed.get("delegations") or {}).get("keys", {})}
        for key_id, value in found.items():
            keys[key_id] = PublicKey.from_dict(value)
    return keys


KEYS = _key_map()


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_fixture_set_is_complete() -> None:
    assert len(SIGNED_FILES) == EXPECTED_FILES
    assert len(KEYS) == 10


@pytest.mark.parametrize("path", SIGNED_FILES, ids=lambda p: p.name)
def test_raw_signed_bytes_are_our_canonical_bytes(path: Path) -> None:
    # The Go client writes `signed` canonically, so the file's own bytes must equal our encoding.
    raw = path.read_bytes()
    prefix = b'{"signed":'
    assert raw.startswith(prefix)
    end = raw.rindex(b',"signatures":[')
    assert encode_canonical(_load(path)["signed"]) == raw[len(prefix) : end]


@pytest.mark.parametrize("path", SIGNED_FILES, ids=lambda p: p.name)
def test_every_signature_verifies_and_tampering_fails(path: Path) -> None:
    envelope = _load(path)
    canonical = encode_canonical(envelope["signed"])
    assert envelope["signatures"]
    for entry in envelope["signatures"]:
        key = KEYS[entry["keyid"]]  # every signer's key is known: KeyError would fail the test
        assert key.key_id == entry["keyid"]
        signature = base64.b64decode(entry["sig"], validate=True)
        method = entry["method"]
        assert verify_signature(key, method, signature, canonical)
        for index in (0, len(canonical) // 2, len(canonical) - 1):
            assert not verify_signature(key, method, signature, _flip(canonical, index))
        for index in (0, len(signature) // 2 - 1, len(signature) // 2, len(signature) - 1):
            assert not verify_signature(key, method, _flip(signature, index), canonical)
        # case-insensitive method, as notary lower-cases it
        assert verify_signature(key, method.upper(), signature, canonical)
        # no other key of the corpus verifies it
        others = [other for other in KEYS.values() if other != key]
        assert not any(verify_signature(other, method, signature, canonical) for other in others)


def test_signature_census() -> None:
    """Counts every verified signature, so the tests above cannot pass on an empty corpus."""
    verified: Counter[tuple[str, str]] = Counter()
    for path in SIGNED_FILES:
        envelope = _load(path)
        canonical = encode_canonical(envelope["signed"])
        for entry in envelope["signatures"]:
            key = KEYS[entry["keyid"]]
            assert key.key_id == entry["keyid"]
            if verify_signature(key, entry["method"], base64.b64decode(entry["sig"]), canonical):
                verified[(entry["method"], key.keytype)] += 1
    assert sum(verified.values()) == EXPECTED_SIGNATURES
    assert verified == {
        ("ecdsa", "ecdsa"): 17,  # client targets/snapshot keys
        ("ecdsa", "ecdsa-x509"): 9,  # 7 root signatures + 2 by the targets/releases delegation key
        ("eddsa", "ed25519"): 3,  # server-generated timestamps (2) and snapshot (1)
    }


def test_root_rotation_is_signed_by_old_and_new_root_keys() -> None:
    envelope = _load(FIXTURES / "upload-rotate_root_key-root.json")
    signed = envelope["signed"]
    new_root = signed["roles"]["root"]["keyids"]
    signers = [entry["keyid"] for entry in envelope["signatures"]]
    assert len(signers) == 2
    assert new_root[0] in signers
    old_root = _load(FIXTURES / "upload-init_publish-root.json")["signed"]["roles"]["root"]["keyids"][0]
    assert old_root in signers
    assert old_root != new_root[0]


def test_each_role_is_signed_by_a_key_its_root_lists() -> None:
    """Where a root in the same flow names the role's keys, the signer must be one of them."""
    root_role_keys: set[tuple[str, str]] = set()
    for path in FIXTURES.glob("upload-*-root.json"):
        for role, spec in _load(path)["signed"]["roles"].items():
            root_role_keys.update((role, key_id) for key_id in spec["keyids"])
    for path in SIGNED_FILES:
        envelope = _load(path)
        kind = envelope["signed"]["_type"].lower()
        if "releases" in path.name:
            continue  # signed by the delegation key, which the parent targets lists
        assert any((kind, entry["keyid"]) in root_role_keys for entry in envelope["signatures"]), path.name
