"""Accesses, scope strings, and the accesses each notary-server route needs.

An access is one action on one resource: ``repository:<gun>:pull``, ``registry:catalog:*``. A scope string
names several, actions of one resource comma-joined and resources space-joined:
``repository:example.com/app:push,pull registry:catalog:*``. GUNs may contain ``:`` (``host:5000/app``),
so a resource's type ends at its first colon and its actions start after its last one. ``*`` as an action
means every action, as notary uses it for deletes and key rotation. A token's ``access`` claim lists
resources, each with its actions (``Resource``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

WILDCARD = "*"
REPOSITORY = "repository"
MAX_NAME_LENGTH = 255  # notary's GUN column is varchar(255)
_TYPE = re.compile(r"[a-z0-9]+")
_ACTION = re.compile(r"[a-z]+|\*")
_NAME = re.compile(r"\S+")


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    action: str

    def to_detail(self) -> dict[str, str]:
        """docker/distribution's ``auth.Access`` as JSON, the ``detail`` of notary's 401."""
        return {"Type": self.type, "Class": "", "Name": self.name, "Action": self.action}


@dataclass(frozen=True)
class Resource:
    """One resource and its actions: an item of a scope string, an entry of a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]

    def to_claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


CATALOG = Access("registry", "catalog", WILDCARD)
# Operations on the service itself rather than on a repository (revoking another's shared key, reading jobs
# that belong to no repository).
ADMIN = Access("notary", "admin", WILDCARD)
# Lets a service ask /v1/verify about requests without a shared key of its own.
VERIFY = Access("notary", "verify", WILDCARD)


def repository(gun: str, *actions: str) -> tuple[Access, ...]:
    return tuple(Access(REPOSITORY, gun, action) for action in actions)


class ScopeError(ValueError):
    """A scope that does not read as ``type:name:actions``."""


def parse_scope(scope: str) -> tuple[Access, ...]:
    """Every access named by a scope string, in order, without repeats."""
    found: dict[Access, None] = {}
    for item in scope.split():
        found.update(dict.fromkeys(_parse_item(item)))
    return tuple(found)


def _parse_item(text: str) -> tuple[Access, ...]:
    type_, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    actions = actions_text.split(",")
    if not (sep and sep2) or not _TYPE.fullmatch(type_):
        raise ScopeError(f"scope {text!r} is not type:name:actions")
    if not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ScopeError(f"scope {text!r} needs a name of 1-{MAX_NAME_LENGTH} non-blank characters")
    if not all(_ACTION.fullmatch(action) for action in actions):
        raise ScopeError(f"scope {text!r} has an empty or malformed action")
    return tuple(Access(type_, name, action) for action in actions)


def resources(accesses: Iterable[Access]) -> tuple[Resource, ...]:
    """One entry per distinct (type, name) in first-seen order, each with its actions in first-seen order."""
    actions: dict[tuple[str, str], dict[str, None]] = {}
    for access in accesses:
        actions.setdefault((access.type, access.name), {})[access.action] = None
    return tuple(Resource(type_, name, tuple(acts)) for (type_, name), acts in actions.items())


def format_scope(accesses: Iterable[Access]) -> str:
    """The scope string of ``accesses``: one item per distinct (type, name), in first-seen order."""
    return " ".join(str(resource) for resource in resources(accesses))


def details(accesses: Iterable[Access]) -> list[dict[str, Any]]:
    return [access.to_detail() for access in accesses]


# notary-server's actions per (operation, method); the operation names are api.routing's route names.
_REPOSITORY_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("UpdateTUF", "POST"): ("push", "pull"),
    ("UpdateTUF", "DELETE"): (WILDCARD,),
    ("GetKey", "GET"): ("push", "pull"),
    ("GetKey", "POST"): (WILDCARD,),
}


def required_accesses(operation: str, method: str, gun: str | None) -> tuple[Access, ...]:
    """What a ``/v2`` request needs: the catalog scope for the routes that name no GUN (the ping, the global
    changefeed), ``pull`` for reads. Unrouted requests (404s) still need ``pull`` on the GUN their path names,
    or the catalog scope when it names none, so nobody learns anything from them without a token."""
    if gun is None:
        return (CATALOG,)
    return repository(gun, *_REPOSITORY_ACTIONS.get((operation, method), ("pull",)))
