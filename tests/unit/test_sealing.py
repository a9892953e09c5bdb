"""notary.sealing: AES-256-GCM under named key-encryption keys, bound to its row by associated data."""

from __future__ import annotations

import base64

import pytest

from notary.sealing import NONCE_BYTES, SealingError, associated_data, reseal, seal, unseal

OLD = ("2024-01", bytes(range(32)))
NEW = ("2025-06", bytes(range(100, 132)))
PRIVATE = b"0\x81\x87\x02\x01\x000\x13-- a PKCS#8 private key, more or less --"
AAD = associated_data("f3a1c0de", "docker.io/library/alpine", "timestamp")


def test_round_trip() -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    assert kek_id == OLD[0]
    assert PRIVATE not in sealed
    assert len(sealed) == NONCE_BYTES + len(PRIVATE) + 16
    assert unseal([OLD], kek_id, sealed, AAD) == PRIVATE


def test_associated_data_joins_parts_unambiguously() -> None:
    assert associated_data("a", "b") != associated_data("a b")
    assert associated_data("ab", "c") != associated_data("a", "bc")


@pytest.mark.parametrize(
    "other_aad",
    [
        associated_data("f3a1c0de", "docker.io/library/alpine", "snapshot"),
        associated_data("f3a1c0de", "docker.io/library/busybox", "timestamp"),
        associated_data("00000000", "docker.io/library/alpine", "timestamp"),
        b"",
    ],
)
def test_wrong_associated_data_does_not_open(other_aad: bytes) -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    with pytest.raises(SealingError):
        unseal([OLD], kek_id, sealed, other_aad)


@pytest.mark.parametrize("position", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 5, -1])
def test_a_tampered_byte_does_not_open(position: int) -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    tampered = bytearray(sealed)
    tampered[position] ^= 0x01
    with pytest.raises(SealingError):
        unseal([OLD], kek_id, bytes(tampered), AAD)


@pytest.mark.parametrize("length", [0, 5, NONCE_BYTES, NONCE_BYTES + 15])
def test_a_truncated_blob_is_a_sealing_error(length: int) -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    with pytest.raises(SealingError):
        unseal([OLD], kek_id, sealed[:length], AAD)


def test_same_id_with_other_material_does_not_open() -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    with pytest.raises(SealingError):
        unseal([(OLD[0], NEW[1])], kek_id, sealed, AAD)


def test_unknown_kek_id_names_the_id_and_no_key_material() -> None:
    kek_id, sealed = seal([OLD], PRIVATE, AAD)
    with pytest.raises(SealingError) as caught:
        unseal([NEW], kek_id, sealed, AAD)
    message = str(caught.value)
    assert OLD[0] in message
    for material in (OLD[1], NEW[1]):
        assert material.hex() not in message
        assert base64.b64encode(material).decode() not in message
        assert repr(material) not in message
    assert repr(PRIVATE) not in message


def test_rotation_keeps_old_blobs_open_and_seals_under_the_new_kek() -> None:
    old_id, old_sealed = seal([OLD], PRIVATE, AAD)
    rotated = [NEW, OLD]

    assert unseal(rotated, old_id, old_sealed, AAD) == PRIVATE
    new_id, new_sealed = seal(rotated, PRIVATE, AAD)
    assert new_id == NEW[0]
    assert unseal(rotated, new_id, new_sealed, AAD) == PRIVATE
    # The new blob really is under the new KEK: the old KEK alone cannot open it.
    with pytest.raises(SealingError):
        unseal([OLD], new_id, new_sealed, AAD)
    with pytest.raises(SealingError):
        unseal([(new_id, OLD[1])], new_id, new_sealed, AAD)


def test_nonces_differ_between_two_seals_of_the_same_plaintext() -> None:
    blobs = [seal([OLD], PRIVATE, AAD)[1] for _ in range(4)]
    assert len({blob[:NONCE_BYTES] for blob in blobs}) == 4
    assert len(set(blobs)) == 4
    assert all(unseal([OLD], OLD[0], blob, AAD) == PRIVATE for blob in blobs)


def test_reseal_moves_a_blob_to_the_first_kek() -> None:
    old_id, under_old = seal([OLD], PRIVATE, AAD)
    new_id, under_new = reseal([NEW, OLD], old_id, under_old, AAD)
    assert new_id == NEW[0]
    assert unseal([NEW], new_id, under_new, AAD) == PRIVATE
    with pytest.raises(SealingError):
        reseal([NEW], old_id, under_old, AAD)  # the old KEK is needed to open it
