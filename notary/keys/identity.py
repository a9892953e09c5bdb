"""The shared key's identity and secret (shared-keys.md section 1).

On the wire an identity is the standard base64 of the ASCII string ``v=1:<dc>:<id>``:

    v=1:vpc-8de77a22c:t-18ad7e2df2d79a5d  ->  dj0xOnZwYy04ZGU3N2EyMmM6dC0xOGFkN2UyZGYyZDc5YTVk

``dc`` is the issuing Notary's datacenter id (visible ASCII, no ``:``, no whitespace), ``id`` is ``t-`` and
16 lower-case hex characters from a CSPRNG. The standard base64 alphabet has no ``:``, so an encoded identity
never breaks the ``identity:signature`` split of the Authorization header.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

VERSION = 1
SECRET_BYTES = 48
_ID_PATTERN = re.compile(r"t-[0-9a-f]{16}")
# Visible ASCII (0x21-0x7E) except ``:``: no separator, no whitespace, no control characters.
_DC_PATTERN = re.compile(r"[!-9;-~]+")
_DECODED_PATTERN = re.compile(r"v=1:([^:]+):([^:]+)")


class InvalidIdentityError(ValueError):
    """Text that is not an encoded v=1 identity, or fields that cannot form one."""


@dataclass(frozen=True)
class Identity:
    dc: str
    id: str
    v: int = VERSION

    def __post_init__(self) -> None:
        if type(self.v) is not int or self.v != VERSION:
            raise InvalidIdentityError(f"unsupported identity version {self.v!r}")
        if not isinstance(self.dc, str) or not _DC_PATTERN.fullmatch(self.dc):
            raise InvalidIdentityError("identity dc must be non-empty visible ASCII without ':'")
        if not isinstance(self.id, str) or not _ID_PATTERN.fullmatch(self.id):
            raise InvalidIdentityError("identity id must be 't-' followed by 16 lower-case hex characters")

    def encode(self) -> str:
        """The wire form: standard base64 (with padding) of ``v=1:<dc>:<id>``."""
        return base64.b64encode(f"v={self.v}:{self.dc}:{self.id}".encode("ascii")).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> Identity:
        """Parse the wire form strictly: canonical standard base64 of ASCII ``v=1:<dc>:<id>``."""
        if not isinstance(text, str) or not text.isascii():
            raise InvalidIdentityError("identity is not base64")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidIdentityError("identity is not base64") from None
        # One identity, one spelling: no non-zero padding bits (re-encoding must give the input back).
        if not raw or base64.b64encode(raw).decode("ascii") != text:
            raise InvalidIdentityError("identity is not canonical base64")
        try:
            decoded = raw.decode("ascii")
        except UnicodeDecodeError:
            raise InvalidIdentityError("identity is not ASCII") from None
        match = _DECODED_PATTERN.fullmatch(decoded)
        if match is None:
            raise InvalidIdentityError("identity is not of the form v=1:<dc>:<id>")
        return cls(dc=match.group(1), id=match.group(2))


def new_identity(dc: str) -> Identity:
    """A fresh identity in datacenter ``dc``: ``t-`` + 16 lower-case hex characters from a CSPRNG."""
    return Identity(dc=dc, id="t-" + secrets.token_hex(8))


def new_secret() -> str:
    """A fresh secret: 48 random bytes, standard base64 (64 characters, no padding needed)."""
    return base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


@dataclass(frozen=True)
class VerificationKey:
    """What verifying a signature needs of a key: its secrets (several during a rotation), the roles to
    report, and the moment it stops verifying."""

    identity: str
    secrets: tuple[str, ...]
    roles: tuple[str, ...]
    expires_at: datetime

    def usable(self, now: datetime) -> bool:
        return now < self.expires_at
