"""What a GUN may be: notary's prefix rule (``repositories.gun_prefixes``), and for GUNs that arrive in a body
rather than a path, the shape a ``/v2/{gun}/...`` path can address."""

from __future__ import annotations

from notary.errors import InvalidGunError

MAX_GUN_LENGTH = 255  # the stores' column
SHAPE = (
    "a GUN is 1-255 characters, path-clean (no empty, '.' or '..' segment), without '*' or control characters"
)


def prefix_error(gun: str, prefixes: tuple[str, ...]) -> InvalidGunError | None:
    """notary's refusal of a GUN outside the configured prefixes (none configured: every GUN is fine)."""
    if not prefixes or gun.startswith(prefixes):
        return None
    return InvalidGunError(f"Require GUNs with prefix: [{' '.join(prefixes)}]")


def shape_error(gun: str) -> InvalidGunError | None:
    """A GUN a client could not have put in a path: notary cleans paths (``//`` and ``..`` answer 301) and
    refuses ``*``, so such a GUN would be stored but never readable."""
    unclean = any(segment in ("", ".", "..") for segment in gun.split("/"))
    control = any(ord(character) < 32 or ord(character) == 127 for character in gun)
    if not 0 < len(gun) <= MAX_GUN_LENGTH or "*" in gun or unclean or control:
        return InvalidGunError(SHAPE)
    return None
