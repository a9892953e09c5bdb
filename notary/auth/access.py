"""Accesses, scope strings, and the accesses each notary-server route needs.

An access is one action on one resource: ``repository:<gun>:pull``, ``registry:catalog:*``. A scope string
names several, actions of one resource comma-joined and resources space-joined:
``repository:example.com/app:push,pull registry:catalog:*``. GUNs may contain ``:`` (``host:5000/app``),
so a resource's type ends at its first colon and its actions start after its last one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

WILDCARD = "*"
REPOSITORY = "repository"


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    action: str

    def to_detail(self) -> dict[str, str]:
        """docker/distribution's ``auth.Access`` as JSON, the ``detail`` of notary's 401."""
        return {"Type": self.type, "Class": "", "Name": self.name, "Action": self.action}


CATALOG = Access("registry", "catalog", WILDCARD)
# Operations on the service itself rather than on a repository (revoking another's shared key, reading jobs
# that belong to no repository).
ADMIN = Access("notary", "admin", WILDCARD)
# Lets a service ask /v1/verify about requests without a shared key of its own.
VERIFY = Access("notary", "verify", WILDCARD)


def repository(gun: str, *actions: str) -> tuple[Access, ...]:
    return tuple(Access(REPOSITORY, gun, action) for action in actions)


class ScopeError(ValueError):
    pass


def parse_scope(scope: str) -> tuple[Access, ...]:
    """Every access named by a scope string, in order, without repeats."""
    found: dict[Access, None] = {}
    for resource in scope.split():
        type_, sep, rest = resource.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (type_ and sep and sep2 and name and actions):
            raise ScopeError(f"a scope is type:name:actions, not {resource!r}")
        for action in actions.split(","):
            if not action:
                raise ScopeError(f"empty action in {resource!r}")
            found[Access(type_, name, action)] = None
    return tuple(found)


def format_scope(accesses: Iterable[Access]) -> str:
    """The scope string of ``accesses``: one resource per distinct (type, name), in first-seen order."""
    actions: dict[tuple[str, str], list[str]] = {}
    for access in accesses:
        listed = actions.setdefault((access.type, access.name), [])
        if access.action not in listed:
            listed.append(access.action)
    return " ".join(f"{type_}:{name}:{','.join(acts)}" for (type_, name), acts in actions.items())


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
