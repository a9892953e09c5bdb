"""Canonical JSON exactly as docker/go ``canonical/json`` (``MarshalCanonical``) writes it.

TUF signatures cover the canonical bytes of the ``signed`` object, and the Go client and server produce
those bytes with docker's fork of ``encoding/json``. Our bytes must match theirs exactly, otherwise every
signature made by a Go client fails here and every signature made here fails there. The rules:

* object keys sorted bytewise by their UTF-8 encoding, no whitespace anywhere;
* inside strings only ``\\`` and ``"`` are escaped; control characters, ``<>&`` and non-ASCII text are
  written raw (this is where ``json.dumps`` differs: it escapes control characters);
* numbers are integers only (Go decodes JSON numbers into float64 and refuses fractional ones).
"""

from __future__ import annotations

import math

__all__ = ["CanonicalJSONError", "encode_canonical"]


class CanonicalJSONError(ValueError):
    """The value has no canonical JSON form (fractional number, non-str key, unsupported type...)."""


def encode_canonical(value: object) -> bytes:
    """Return the canonical JSON bytes of ``value`` (built from dict/list/tuple/str/int/float/bool/None)."""
    parts: list[str] = []
    try:
        _encode(value, parts)
        # Encoding once at the end is much faster than encoding every fragment. "strict" refuses lone
        # surrogates (e.g. from json.loads('"\\ud800"')): they have no UTF-8 form, so no Go client could
        # have signed them; better to refuse than to sign or verify bytes we made up.
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string contains a lone surrogate, which has no UTF-8 encoding") from exc
    except RecursionError as exc:
        raise CanonicalJSONError("value is nested too deeply") from exc


def _encode(value: object, out: list[str]) -> None:
    # bool is a subclass of int, so it must be tested before int.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_quote(value))
    elif isinstance(value, int):
        out.append(_integer(value))
    elif isinstance(value, float):
        # Go's canonical encoder writes int64(f) when f is integral and errors otherwise.
        if not math.isfinite(value) or not value.is_integer():
            raise CanonicalJSONError(f"canonical JSON allows only integral numbers, got {value!r}")
        out.append(_integer(int(value)))
    elif isinstance(value, dict):
        _encode_object(value, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise CanonicalJSONError(f"type {type(value).__name__} has no canonical JSON form")


def _encode_object(value: dict[object, object], out: list[str]) -> None:
    keys: list[str] = []
    for key in value:
        if not isinstance(key, str):
            raise CanonicalJSONError(f"object keys must be str, got {type(key).__name__}")
        keys.append(key)
    # For valid Unicode, code point order equals UTF-8 byte order (UTF-8 preserves code point order),
    # so sorting the str keys directly is the bytewise sort Go does. Lone surrogates, the one exception,
    # are refused when the output is encoded. (UTF-16 order, as in JavaScript, would differ above U+FFFF.)
    out.append("{")
    for index, key in enumerate(sorted(keys)):
        if index:
            out.append(",")
        out.append(_quote(key))
        out.append(":")
        _encode(value[key], out)
    out.append("}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _integer(number: int) -> str:
    # int.__repr__ rather than str(): an IntEnum's str() is its member name.
    try:
        return int.__repr__(number)
    except ValueError as exc:  # more digits than sys.get_int_max_str_digits() allows
        raise CanonicalJSONError("integer is too large to encode") from exc
