"""The users file: htpasswd lines ``user:$2y$...``, bcrypt hashes only (``htpasswd -B`` writes the same).

Other htpasswd formats (MD5 ``$apr1$``, ``{SHA}``, crypt, plain text) are refused when the file is loaded:
they are weak, and a server that silently ignored their lines would lock users out without saying why.

Checking a password is slow by design (bcrypt), so callers on an event loop run ``authenticate`` in a thread.
Unknown users are checked against a dummy hash of the same cost, so the answer takes as long as for a known
user with a wrong password and the timing does not tell which user names exist.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import bcrypt

from notary.auth.service.grants import RESERVED_PREFIX

DEFAULT_COST = 12
MIN_COST, MAX_COST = 4, 31
# bcrypt reads only the first 72 bytes; longer passwords are refused rather than silently truncated.
MAX_PASSWORD_BYTES = 72
_BCRYPT_HASH = re.compile(rb"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")


class UsersFileError(ValueError):
    """A users file that cannot be read as documented; the message names the line, never a hash."""


class PasswordError(ValueError):
    """A password that cannot be hashed (empty or too long)."""


def check_user_name(name: str) -> None:
    if not name or ":" in name or name.startswith(RESERVED_PREFIX) or any(c.isspace() for c in name):
        raise UsersFileError(
            f"user name {name!r} must be non-empty, without ':' or blanks, and not start with"
            f" {RESERVED_PREFIX!r}"
        )


def hash_password(password: bytes, cost: int = DEFAULT_COST) -> str:
    """A bcrypt hash in htpasswd's ``$2y$`` spelling (the same algorithm as ``$2b$``)."""
    if not password:
        raise PasswordError("the password is empty")
    if len(password) > MAX_PASSWORD_BYTES:
        raise PasswordError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes")
    if not MIN_COST <= cost <= MAX_COST:
        raise PasswordError(f"the bcrypt cost must be between {MIN_COST} and {MAX_COST}")
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost, prefix=b"2b"))
    return "$2y$" + hashed.decode("ascii")[len("$2b$") :]


def with_entry(text: str, user: str, password_hash: str) -> str:
    """``text`` (a users file) with ``user``'s line added, or replaced where it was."""
    check_user_name(user)
    entry = f"{user}:{password_hash}"
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.partition(":")[0] == user:
            lines[index] = entry
            break
    else:
        lines.append(entry)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Users:
    hashes: Mapping[str, bytes]
    dummy_hash: bytes

    @classmethod
    def parse(cls, text: str) -> Users:
        hashes: dict[str, bytes] = {}
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            try:
                check_user_name(user)
            except UsersFileError as bad:
                raise UsersFileError(f"line {number}: {bad}") from None
            if not sep or not _BCRYPT_HASH.fullmatch(hashed.encode("ascii", "replace")):
                raise UsersFileError(f"line {number}: {user!r} has no bcrypt hash ($2y$...)")
            if not MIN_COST <= _cost(hashed.encode("ascii")) <= MAX_COST:
                raise UsersFileError(
                    f"line {number}: {user!r} has a bcrypt cost outside {MIN_COST}-{MAX_COST}"
                )
            if user in hashes:
                raise UsersFileError(f"line {number}: {user!r} appears twice")
            hashes[user] = hashed.encode("ascii")
        return cls(hashes, _dummy_hash(max((_cost(h) for h in hashes.values()), default=DEFAULT_COST)))

    def authenticate(self, user: str, password: bytes) -> bool:
        """Whether ``password`` is ``user``'s; constant time in the password, and as slow for an unknown
        user as for a known one."""
        stored = self.hashes.get(user)
        checked = bcrypt.checkpw(password[:MAX_PASSWORD_BYTES], stored or self.dummy_hash)
        return checked and stored is not None and len(password) <= MAX_PASSWORD_BYTES


def _cost(password_hash: bytes) -> int:
    return int(password_hash[4:6])


def _dummy_hash(cost: int) -> bytes:
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))
