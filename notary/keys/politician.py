"""Roles for an authenticated instance: Politician's side of key issuance (shared-keys.md sections 2 and 4).

Politician maps an identity tuple (account, region, image, instance, and when known the VPC and the
autoscaling group) to roles. Role lookup is pluggable; this module holds what every provider shares, with no
I/O:

* :class:`IdentityTuple`, what is looked up (``to_dict()`` is also the JSON body sent to an HTTP Politician);
* :class:`Binding` / :func:`parse_bindings` / :func:`static_roles`, the ``static`` provider's configuration,
  e.g. ``[{"match": {"account": "716756199562", "image": "ami-*"}, "roles": ["web"]}]``: every match key
  is an :class:`IdentityTuple` field name and every value a case-sensitive glob (:func:`fnmatch.fnmatchcase`);
  a binding applies when all of its keys match, and the roles are the union over the bindings that apply;
* :func:`parse_roles`, the validation of a list of role names, wherever it comes from;
* :class:`RolesUnavailableError`, raised when the roles cannot be known (the API answers
  ``503 ROLES_UNAVAILABLE``). A provider never answers "no roles" because of a failure.

The providers that do I/O (``static`` wrapper, ``http``) live in ``workers.politician``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from notary.keys.ec2_identity import InstanceIdentity

__all__ = [
    "IDENTITY_FIELDS",
    "ROLE_PATTERN",
    "Binding",
    "IdentityTuple",
    "RolesProvider",
    "RolesUnavailableError",
    "parse_bindings",
    "parse_roles",
    "static_roles",
]

ROLE_PATTERN: Final = re.compile(r"\A[A-Za-z0-9_.:-]{1,128}\Z")
_OPTIONAL_FIELDS: Final = frozenset({"vpc", "autoscaling_group"})


class RolesUnavailableError(Exception):
    """The roles of an identity cannot be known right now (Politician down, timing out, or answering
    nonsense). Issuance and renewal fail with ``503 ROLES_UNAVAILABLE``; they never go on with no roles."""


@dataclass(frozen=True)
class IdentityTuple:
    """What roles are looked up for. ``vpc`` and ``autoscaling_group`` are not in the identity document: they
    are ``None`` unless an EC2 lookup filled them in, and a ``None`` field never matches a binding."""

    account: str
    region: str
    image: str
    instance: str
    vpc: str | None = None
    autoscaling_group: str | None = None

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None and field.name in _OPTIONAL_FIELDS:
                continue
            if not isinstance(value, str) or not value:
                kind = (
                    "a non-empty string or None" if field.name in _OPTIONAL_FIELDS else "a non-empty string"
                )
                raise ValueError(f"identity tuple field {field.name!r} must be {kind}, not {value!r}")

    def to_dict(self) -> dict[str, str | None]:
        """Every field, in declaration order; unknown optional fields are ``None`` (JSON ``null``)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_instance(
        cls, instance: InstanceIdentity, *, vpc: str | None = None, autoscaling_group: str | None = None
    ) -> IdentityTuple:
        """The tuple of a verified instance identity document (plus what an EC2 lookup found, if any)."""
        return cls(
            account=instance.account_id,
            region=instance.region,
            image=instance.image_id,
            instance=instance.instance_id,
            vpc=vpc,
            autoscaling_group=autoscaling_group,
        )


IDENTITY_FIELDS: Final[tuple[str, ...]] = tuple(field.name for field in fields(IdentityTuple))


class RolesProvider(Protocol):
    """A role lookup: the roles of ``identity`` (sorted, de-duplicated), or :class:`RolesUnavailableError`."""

    def roles(self, identity: IdentityTuple) -> tuple[str, ...]: ...


def parse_roles(value: object, *, where: str = "roles", allow_empty: bool = True) -> tuple[str, ...]:
    """A JSON list of role names (each matching :data:`ROLE_PATTERN`) as a sorted, de-duplicated tuple.
    Raises ``ValueError`` naming ``where``."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"{where} must be a list of role names, not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{where} must not be empty")
    for index, role in enumerate(value):
        if not isinstance(role, str) or not ROLE_PATTERN.match(role):
            raise ValueError(
                f"{where}[{index}] is not a role name (1 to 128 characters of A-Z a-z 0-9 _ . : -): {role!r}"
            )
    return tuple(sorted(set(value)))


@dataclass(frozen=True)
class Binding:
    """Roles granted to every identity whose fields match all the glob patterns of ``match``."""

    match: Mapping[str, str]
    roles: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.match, Mapping):
            raise ValueError(f"match must be an object, not {type(self.match).__name__}")
        if not self.match:
            raise ValueError(
                "match must name at least one field (to grant roles to every instance, "
                'say so explicitly, e.g. {"account": "*"})'
            )
        for key, pattern in self.match.items():
            if key not in IDENTITY_FIELDS:
                raise ValueError(f"unknown match key {key!r} (known: {', '.join(IDENTITY_FIELDS)})")
            if not isinstance(pattern, str) or not pattern:
                raise ValueError(f"match[{key!r}] must be a non-empty glob pattern, not {pattern!r}")
        roles = parse_roles(
            list(self.roles) if isinstance(self.roles, tuple) else self.roles, allow_empty=False
        )
        # Frozen for real: a copy the caller cannot change afterwards.
        object.__setattr__(self, "match", MappingProxyType(dict(self.match)))
        object.__setattr__(self, "roles", roles)

    def matches(self, identity: IdentityTuple) -> bool:
        """Every key's pattern matches the identity's value; a ``None`` never matches, not even ``*``."""
        for key, pattern in self.match.items():
            value = getattr(identity, key)
            if value is None or not fnmatchcase(value, pattern):
                return False
        return True


def parse_bindings(value: object) -> tuple[Binding, ...]:
    """The ``static`` provider's configuration: a list of ``{"match": {...}, "roles": [...]}`` objects.
    Raises ``ValueError`` with the position and the reason of the first problem."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"role bindings must be a list, not {type(value).__name__}")
    bindings: list[Binding] = []
    for index, item in enumerate(value):
        where = f"role binding {index}"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an object with 'match' and 'roles', not {type(item).__name__}")
        unknown = sorted(set(item) - {"match", "roles"}, key=str)
        if unknown:
            raise ValueError(f"{where}: unknown member(s) {', '.join(map(repr, unknown))}")
        for member in ("match", "roles"):
            if member not in item:
                raise ValueError(f"{where}: missing {member!r}")
        try:
            bindings.append(Binding(match=item["match"], roles=item["roles"]))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    return tuple(bindings)


def static_roles(bindings: Iterable[Binding], identity: IdentityTuple) -> tuple[str, ...]:
    """The union of the roles of every binding that matches ``identity``, sorted and de-duplicated."""
    return tuple(
        sorted({role for binding in bindings if binding.matches(identity) for role in binding.roles})
    )
