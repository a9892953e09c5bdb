"""Parsing a signed metadata file: ``{"signed": {...}, "signatures": [...]}``.

The exact bytes are kept: they are what is stored, served and hashed. Signatures are checked against the
canonical JSON of ``signed`` re-encoded from the parsed object, so the upload may be formatted freely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from notary.tuf.canonical import CanonicalJSONError, encode_canonical
from notary.tuf.timefmt import parse_go_time

TYPES = {"root": "Root", "targets": "Targets", "snapshot": "Snapshot", "timestamp": "Timestamp"}
MAX_VERSION = 2**31 - 1  # the stores' INTEGER column


class MalformedMetadataError(ValueError):
    """The file is not a signed TUF document (maps to MALFORMED_JSON)."""


@dataclass(frozen=True)
class Signature:
    keyid: str
    method: str
    sig: bytes


@dataclass(frozen=True)
class SignedMetadata:
    role: str
    raw: bytes
    signed: dict[str, Any] = field(repr=False)
    signatures: tuple[Signature, ...] = field(repr=False)
    canonical_signed: bytes = field(repr=False)  # what the signatures cover

    @property
    def type(self) -> str:
        return str(self.signed["_type"])

    @property
    def version(self) -> int:
        return int(self.signed["version"])

    @cached_property
    def expires(self) -> datetime:
        return parse_go_time(self.signed["expires"])

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def length(self) -> int:
        return len(self.raw)

    def file_meta(self) -> dict[str, Any]:
        """What a snapshot or timestamp records about this file: the hashes of the exact stored bytes."""
        return file_meta(self.raw)


def file_meta(raw: bytes) -> dict[str, Any]:
    return {
        "hashes": {
            "sha256": base64.b64encode(hashlib.sha256(raw).digest()).decode(),
            "sha512": base64.b64encode(hashlib.sha512(raw).digest()).decode(),
        },
        "length": len(raw),
    }


def _reject_constants(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


def parse_metadata(role: str, raw: bytes) -> SignedMetadata:
    """Decode and shape-check one file; raises MalformedMetadataError for anything not a signed document."""
    try:
        document = json.loads(raw, parse_constant=_reject_constants)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedMetadataError(f"{role}: not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedMetadataError(f"{role}: not a JSON object")
    signed = document.get("signed")
    signatures = document.get("signatures")
    if not isinstance(signed, dict) or not isinstance(signatures, list):
        raise MalformedMetadataError(f"{role}: needs a 'signed' object and a 'signatures' list")
    if not isinstance(signed.get("_type"), str) or not isinstance(signed.get("expires"), str):
        raise MalformedMetadataError(f"{role}: 'signed' needs '_type' and 'expires' strings")
    version = signed.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 0 <= version <= MAX_VERSION:
        raise MalformedMetadataError(f"{role}: 'signed.version' must be an integer")
    try:
        parse_go_time(signed["expires"])
        canonical = encode_canonical(signed)
    except (ValueError, CanonicalJSONError) as exc:
        raise MalformedMetadataError(f"{role}: {exc}") from None
    entries = tuple(_signature(role, entry) for entry in signatures)
    return SignedMetadata(role, bytes(raw), signed, entries, canonical)


def _signature(role: str, entry: object) -> Signature:
    if not isinstance(entry, dict):
        raise MalformedMetadataError(f"{role}: each signature must be an object")
    keyid, method, sig = entry.get("keyid"), entry.get("method"), entry.get("sig")
    if not (isinstance(keyid, str) and isinstance(method, str) and isinstance(sig, str)):
        raise MalformedMetadataError(f"{role}: a signature needs 'keyid', 'method' and 'sig' strings")
    try:
        decoded = base64.b64decode(sig, validate=True)
    except binascii.Error:
        raise MalformedMetadataError(f"{role}: a signature is not base64") from None
    return Signature(keyid, method.lower(), decoded)


def serialize(signed: dict[str, Any], signatures: list[Signature]) -> bytes:
    """How the server writes the files it generates: compact, canonical ``signed``, signatures in order."""
    entries = [
        {"keyid": s.keyid, "method": s.method, "sig": base64.b64encode(s.sig).decode()} for s in signatures
    ]
    return file_bytes({"signed": signed, "signatures": entries})


def file_bytes(document: dict[str, Any]) -> bytes:
    """A signed document in the byte form the Go client uploads: ``{"signed":...,"signatures":[...]}``,
    each member canonical JSON, ``signed`` first (Go's struct order, not the canonical key order); any
    other member follows, canonical. Raises CanonicalJSONError for values with no canonical form."""
    first = [key for key in ("signed", "signatures") if key in document]
    rest = sorted(key for key in document if key not in first)
    members = [encode_canonical(key) + b":" + encode_canonical(document[key]) for key in first + rest]
    return b"{" + b",".join(members) + b"}"
