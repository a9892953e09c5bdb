"""Role names, as notary-server accepts them: the four base roles and path-clean delegations of targets."""

from __future__ import annotations

import re

ROOT = "root"
TARGETS = "targets"
SNAPSHOT = "snapshot"
TIMESTAMP = "timestamp"
BASE_ROLES = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
SERVER_ROLES = (SNAPSHOT, TIMESTAMP)

_DELEGATION = re.compile(r"^[-a-z0-9_/]+$")
MAX_ROLE_LENGTH = 255


def is_delegation(name: str) -> bool:
    """``targets/...``: lower case, digits, ``-_/``, under 256 characters, and already path-clean."""
    if not name.startswith(TARGETS + "/") or len(name) > MAX_ROLE_LENGTH or not _DELEGATION.match(name):
        return False
    segments = name.split("/")
    return all(segment not in ("", ".", "..") for segment in segments)


def is_valid_role(name: str) -> bool:
    return name in BASE_ROLES or is_delegation(name)


def is_targets_role(name: str) -> bool:
    return name == TARGETS or is_delegation(name)


def parent_of(name: str) -> str:
    """The role that delegates ``name``: ``targets/a/b`` → ``targets/a``; ``targets/a`` → ``targets``."""
    return name.rsplit("/", 1)[0]


def depth(name: str) -> int:
    return name.count("/")
