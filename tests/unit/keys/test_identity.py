"""notary.keys.identity: the v=1 identity encoding and fresh identities and secrets (shared-keys.md §1)."""

from __future__ import annotations

import base64
import random
import re
import string

import pytest

from notary.keys.identity import Identity, InvalidIdentityError, new_identity, new_secret

SPEC_DECODED = "v=1:vpc-8de77a22c:t-18ad7e2df2d79a5d"
SPEC_ENCODED = "dj0xOnZwYy04ZGU3N2EyMmM6dC0xOGFkN2UyZGYyZDc5YTVk"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("latin-1")).decode("ascii")


def test_the_spec_example_encodes() -> None:
    identity = Identity(dc="vpc-8de77a22c", id="t-18ad7e2df2d79a5d")
    assert identity.v == 1
    assert identity.encode() == SPEC_ENCODED
    assert base64.b64decode(SPEC_ENCODED).decode("ascii") == SPEC_DECODED


def test_the_spec_example_decodes() -> None:
    assert Identity.decode(SPEC_ENCODED) == Identity(dc="vpc-8de77a22c", id="t-18ad7e2df2d79a5d", v=1)


def test_identity_is_frozen_and_hashable() -> None:
    identity = Identity.decode(SPEC_ENCODED)
    with pytest.raises(AttributeError):
        identity.dc = "elsewhere"  # type: ignore[misc]
    assert {identity, Identity.decode(SPEC_ENCODED)} == {identity}


def test_invalid_identity_error_is_a_value_error() -> None:
    assert issubclass(InvalidIdentityError, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param(SPEC_ENCODED + "\n", id="trailing-newline"),
        pytest.param(" " + SPEC_ENCODED, id="leading-space"),
        pytest.param("dj0xOn5-fjp0LTE4YWQ3ZTJkZjJkNzlhNWQ=", id="urlsafe-alphabet-is-not-standard"),
        pytest.param(_b64(SPEC_DECODED + "x")[:-2], id="missing-padding"),
        pytest.param("dj0xOnZwYy04ZGU3N2EyMmM6dC0xOGFkN2UyZGYyZDc5YTVk\u00e9", id="non-ascii-text"),
        pytest.param(_b64("v=1:vpc-\u00e9:t-18ad7e2df2d79a5d"), id="non-ascii-decoded"),
        pytest.param(_b64("v=2:vpc-8de77a22c:t-18ad7e2df2d79a5d"), id="version-2"),
        pytest.param(_b64("v=01:vpc-8de77a22c:t-18ad7e2df2d79a5d"), id="version-01"),
        pytest.param(_b64("vpc-8de77a22c:t-18ad7e2df2d79a5d"), id="no-version"),
        pytest.param(_b64("v=1:t-18ad7e2df2d79a5d"), id="no-dc"),
        pytest.param(_b64("v=1::t-18ad7e2df2d79a5d"), id="empty-dc"),
        pytest.param(_b64("v=1:vpc 8de:t-18ad7e2df2d79a5d"), id="space-in-dc"),
        pytest.param(_b64("v=1:vpc:8de:t-18ad7e2df2d79a5d"), id="colon-in-dc"),
        pytest.param(_b64("v=1:vpc-8de77a22c:"), id="empty-id"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18AD7E2DF2D79A5D"), id="upper-case-hex"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18ad7e2df2d79a5"), id="15-hex"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18ad7e2df2d79a5d0"), id="17-hex"),
        pytest.param(_b64("v=1:vpc-8de77a22c:18ad7e2df2d79a5d"), id="no-t-prefix"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18ad7e2df2d79a5g"), id="not-hex"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18ad7e2df2d79a5d\n"), id="decoded-trailing-newline"),
        pytest.param(_b64("v=1:vpc-8de77a22c:t-18ad7e2df2d79a5d:x"), id="extra-field"),
        pytest.param("7bf9708aa51b7f7859d0e68b6b62b8ab", id="turnstile-identity"),
    ],
)
def test_decode_rejects(text: str) -> None:
    with pytest.raises(InvalidIdentityError):
        Identity.decode(text)


def test_the_standard_alphabet_is_used() -> None:
    identity = Identity(dc="~~~", id="t-18ad7e2df2d79a5d")
    assert identity.encode() == "dj0xOn5+fjp0LTE4YWQ3ZTJkZjJkNzlhNWQ="
    assert Identity.decode("dj0xOn5+fjp0LTE4YWQ3ZTJkZjJkNzlhNWQ=") == identity


def test_decode_rejects_non_canonical_base64() -> None:
    """Non-zero padding bits decode to the same bytes; one identity has one spelling."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    identity = Identity(dc="dc", id="t-18ad7e2df2d79a5d")
    raw = identity.encode()
    assert raw.endswith("==")
    assert Identity.decode(raw) == identity
    char = raw[-3]  # the last data character before "==" carries 4 padding bits
    twin = raw[:-3] + alphabet[alphabet.index(char) + 1] + raw[-2:]
    assert base64.b64decode(twin) == base64.b64decode(raw)
    with pytest.raises(InvalidIdentityError):
        Identity.decode(twin)


@pytest.mark.parametrize(
    ("dc", "id_", "v"),
    [
        ("", "t-18ad7e2df2d79a5d", 1),
        ("a:b", "t-18ad7e2df2d79a5d", 1),
        ("a b", "t-18ad7e2df2d79a5d", 1),
        ("a\nb", "t-18ad7e2df2d79a5d", 1),
        ("vpc-\u00e9", "t-18ad7e2df2d79a5d", 1),
        ("vpc", "t-18ad7e2df2d79a5D", 1),
        ("vpc", "x-18ad7e2df2d79a5d", 1),
        ("vpc", "t-18ad7e2df2d79a5d", 2),
        ("vpc", "t-18ad7e2df2d79a5d", True),
    ],
)
def test_constructor_rejects_what_cannot_be_encoded(dc: str, id_: str, v: int) -> None:
    with pytest.raises(InvalidIdentityError):
        Identity(dc=dc, id=id_, v=v)


def test_new_identity_has_the_contract_format() -> None:
    identity = new_identity("vpc-8de77a22c")
    assert identity.dc == "vpc-8de77a22c"
    assert identity.v == 1
    assert re.fullmatch(r"t-[0-9a-f]{16}", identity.id)
    assert Identity.decode(identity.encode()) == identity


def test_new_identity_rejects_a_bad_dc() -> None:
    with pytest.raises(InvalidIdentityError):
        new_identity("dc:1")


def test_new_identities_are_unique() -> None:
    ids = {new_identity("dc1").id for _ in range(2000)}
    assert len(ids) == 2000


def test_encoded_identities_never_contain_a_colon() -> None:
    """The Authorization header splits ``identity:signature`` on the colon."""
    rng = random.Random(1458793077)
    dc_alphabet = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != ":")
    for _ in range(5000):
        dc = "".join(rng.choice(dc_alphabet) for _ in range(rng.randint(1, 40)))
        identity = new_identity(dc)
        encoded = identity.encode()
        assert ":" not in encoded
        assert re.fullmatch(r"[A-Za-z0-9+/]+=*", encoded)
        assert Identity.decode(encoded) == identity


def test_new_secret_is_48_random_bytes_in_base64() -> None:
    secret = new_secret()
    assert len(secret) == 64
    assert len(base64.b64decode(secret, validate=True)) == 48
    assert len({new_secret() for _ in range(500)}) == 500
