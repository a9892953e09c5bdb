"""Resource scopes of the Docker token protocol: ``type:name:action,action``.

A request's ``scope`` parameter holds one or more of them, space-separated (``repository:a/b:pull
registry:catalog:*``). The name may itself contain ``:`` (a registry's ``host:port/repo``), so the type is
everything before the first ``:`` and the actions everything after the last one. ``*`` as an action means
every action, as notary uses it for deletes and key rotation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_NAME_LENGTH = 255  # notary's GUN column is varchar(255)
_TYPE = re.compile(r"[a-z0-9]+")
_ACTION = re.compile(r"[a-z]+|\*")
_NAME = re.compile(r"\S+")


class ScopeError(ValueError):
    """A scope that does not read as ``type:name:actions``."""


@dataclass(frozen=True)
class Access:
    """One resource and the actions on it, as in a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]

    def to_claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_resource_scope(text: str) -> Access:
    resource_type, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not (sep and sep2) or not _TYPE.fullmatch(resource_type):
        raise ScopeError(f"scope {text!r} is not type:name:actions")
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ScopeError(f"scope {text!r} needs a name of 1-{MAX_NAME_LENGTH} non-blank characters")
    actions = actions_text.split(",")
    if not all(_ACTION.fullmatch(action) for action in actions):
        raise ScopeError(f"scope {text!r} has an empty or malformed action")
    return Access(resource_type, name, tuple(dict.fromkeys(actions)))


def parse_scopes(texts: Iterable[str]) -> list[Access]:
    """Every resource scope in ``texts`` (each space-separated), merged per resource."""
    return merged(parse_resource_scope(part) for text in texts for part in text.split())


def merged(accesses: Iterable[Access]) -> list[Access]:
    """One entry per (type, name), actions in first-seen order; resources keep their first position."""
    actions: dict[tuple[str, str], dict[str, None]] = {}
    for access in accesses:
        actions.setdefault((access.type, access.name), {}).update(dict.fromkeys(access.actions))
    return [Access(kind, name, tuple(seen)) for (kind, name), seen in actions.items()]
