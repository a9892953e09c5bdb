"""Canonical JSON must equal docker/go MarshalCanonical byte for byte (signatures cover these bytes)."""

from __future__ import annotations

import enum
import json
import math
from decimal import Decimal

import pytest

from notary.tuf.canonical import CanonicalJSONError, encode_canonical


def test_keys_sorted_bytewise_uppercase_first() -> None:
    # Bytewise: "B" (0x42) < "_" (0x5f) < "a" (0x61) < "b" (0x62); a case-insensitive sort would differ.
    assert encode_canonical({"b": 1, "a": 2, "_": 3, "B": 4}) == b'{"B":4,"_":3,"a":2,"b":1}'


def test_non_ascii_keys_sorted_by_utf8_bytes() -> None:
    value = {"\U0001f600": 1, "\uffff": 2, "é": 3, "z": 4, "Z": 5}
    expected = '{"Z":5,"z":4,"é":3,"\uffff":2,"\U0001f600":1}'.encode()
    assert encode_canonical(value) == expected
    # UTF-16 order (JavaScript, Java) would put U+1F600 (a surrogate pair, 0xD83D...) before U+FFFF.
    keys = [key.encode() for key in value]
    assert [k.decode() for k in sorted(keys)] == ["Z", "z", "é", "\uffff", "\U0001f600"]


def test_shorter_key_sorts_before_its_extensions() -> None:
    assert encode_canonical({"ab": 1, "a": 2, "a\x00": 3}) == b'{"a":2,"a\x00":3,"ab":1}'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\n", b'"\n"'),
        ("\u0001", b'"\x01"'),
        ("\t\r\x00\x1f\x7f", b'"\t\r\x00\x1f\x7f"'),
        ("<>&", b'"<>&"'),
        ("\u2028\u2029", '"\u2028\u2029"'.encode()),
        ("é😀", '"é😀"'.encode()),
        ("a/b", b'"a/b"'),
        ("back\\slash", b'"back\\\\slash"'),
        ('say "hi"', b'"say \\"hi\\""'),
        ('\\"', b'"\\\\\\""'),
        ("", b'""'),
    ],
)
def test_only_backslash_and_quote_are_escaped(text: str, expected: bytes) -> None:
    assert encode_canonical(text) == expected


def test_control_characters_differ_from_json_dumps() -> None:
    # The reason a custom encoder exists at all: json.dumps escapes control characters.
    value = {"k": "line1\nline2\u0001"}
    assert encode_canonical(value) == b'{"k":"line1\nline2\x01"}'
    assert json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False) != (
        encode_canonical(value).decode()
    )


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (0, b"0"),
        (-7, b"-7"),
        (2**64, b"18446744073709551616"),
        (1.0, b"1"),
        (-3.0, b"-3"),
        (-0.0, b"0"),
        (1e20, b"100000000000000000000"),
        (123456789.0, b"123456789"),
    ],
)
def test_integers_and_integral_floats(number: float, expected: bytes) -> None:
    assert encode_canonical(number) == expected


@pytest.mark.parametrize("number", [1.5, -0.25, 1e-9, math.nan, math.inf, -math.inf])
def test_non_integral_numbers_are_errors(number: float) -> None:
    with pytest.raises(CanonicalJSONError):
        encode_canonical({"a": [number]})


def test_literals() -> None:
    assert encode_canonical([True, False, None]) == b"[true,false,null]"
    # bool must not be mistaken for int
    assert encode_canonical({"t": True}) == b'{"t":true}'


def test_int_enum_encodes_as_number() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert encode_canonical({"level": Level.HIGH}) == b'{"level":3}'


def test_nested_structures_and_empty_containers() -> None:
    value = {
        "z": {"b": [1, {"d": None, "c": True}, []], "a": {}},
        "": [],
        "m": [{}, [[]], ""],
    }
    assert encode_canonical(value) == b'{"":[],"m":[{},[[]],""],"z":{"a":{},"b":[1,{"c":true,"d":null},[]]}}'
    assert encode_canonical({}) == b"{}"
    assert encode_canonical([]) == b"[]"


def test_tuple_is_an_array() -> None:
    assert encode_canonical({"a": (1, "x")}) == b'{"a":[1,"x"]}'


def test_matches_json_dumps_when_no_control_characters() -> None:
    value = {"keys": {"é": "ü<>&/", "A": [1, 2, {"y": None, "x": False}]}, "version": 3, "B": 'q"\\'}
    reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert encode_canonical(value) == reference.encode()


@pytest.mark.parametrize(
    "value",
    [
        {1: "a"},
        {True: "a"},
        {None: "a"},
        {"a": {(1, 2): "x"}},
        {1, 2},
        b"bytes",
        Decimal("1"),
        object(),
        {"a": [1, object()]},
    ],
)
def test_unsupported_values_are_errors(value: object) -> None:
    with pytest.raises(CanonicalJSONError):
        encode_canonical(value)


def test_lone_surrogate_is_an_error() -> None:
    value = json.loads('{"a":"\\ud800"}')
    with pytest.raises(CanonicalJSONError):
        encode_canonical(value)


def test_very_deep_nesting_is_an_error_not_a_crash() -> None:
    value: list[object] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(CanonicalJSONError):
        encode_canonical(value)


def test_error_is_a_value_error() -> None:
    assert issubclass(CanonicalJSONError, ValueError)
