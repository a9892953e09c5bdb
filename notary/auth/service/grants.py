"""The grants file: which scopes each user may be given, with ``*`` globs in resource names.

One line per subject, ``SUBJECT: SCOPE [SCOPE ...]``; a subject may have several lines; ``#`` starts a
comment::

    alice:          repository:docker.io/alice/*:push,pull  repository:docker.io/shared/*:pull
    admin:          repository:*:*  registry:catalog:*
    @authenticated: repository:docker.io/library/*:pull
    @anonymous:     repository:docker.io/public/*:pull

``@anonymous`` holds what anyone gets without credentials, ``@authenticated`` what every user with a valid
password gets; a user also gets both of those. In a name pattern only ``*`` is special: it matches any run of
characters, ``/`` included (``docker.io/alice/*`` covers ``docker.io/alice/a/b``). ``*`` as an action grants
every action, including the ``*`` that notary asks for to delete a repository or rotate a key.

A token never carries more than was both asked for and granted: see ``granted``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from notary.auth.access import WILDCARD, Access, ScopeError, parse_scope

ANONYMOUS = "@anonymous"
AUTHENTICATED = "@authenticated"
RESERVED_PREFIX = "@"


class GrantsFileError(ValueError):
    """A grants file that cannot be read as documented; the message names the line."""


@dataclass(frozen=True)
class Grant:
    """An access whose name is a pattern and whose action may be ``*``, as written in the grants file."""

    pattern: Access

    @cached_property
    def _name_regex(self) -> re.Pattern[str]:
        parts = self.pattern.name.split("*")
        return re.compile(".*".join(re.escape(part) for part in parts), re.DOTALL)

    def allows(self, access: Access) -> bool:
        return (
            access.type == self.pattern.type
            and self.pattern.action in (WILDCARD, access.action)
            and self._name_regex.fullmatch(access.name) is not None
        )


@dataclass(frozen=True)
class Grants:
    by_subject: Mapping[str, tuple[Grant, ...]]

    @classmethod
    def parse(cls, text: str) -> Grants:
        by_subject: dict[str, list[Grant]] = {}
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.split("#", 1)[0].strip()
            if not line:
                continue
            subject, sep, scopes = line.partition(":")
            subject = subject.strip()
            if not sep or not subject or any(c.isspace() for c in subject):
                raise GrantsFileError(f"line {number}: expected 'SUBJECT: SCOPE [SCOPE ...]'")
            if subject.startswith(RESERVED_PREFIX) and subject not in (ANONYMOUS, AUTHENTICATED):
                raise GrantsFileError(f"line {number}: unknown subject {subject!r}")
            try:
                patterns = parse_scope(scopes)
            except ScopeError as bad:
                raise GrantsFileError(f"line {number}: {bad}") from None
            if not patterns:
                raise GrantsFileError(f"line {number}: {subject!r} has no scope")
            by_subject.setdefault(subject, []).extend(Grant(pattern) for pattern in patterns)
        return cls({subject: tuple(grants) for subject, grants in by_subject.items()})

    def of(self, user: str | None) -> tuple[Grant, ...]:
        """The grants of ``user`` (None: an anonymous request)."""
        subjects = [ANONYMOUS] if user is None else [user, AUTHENTICATED, ANONYMOUS]
        return tuple(grant for subject in subjects for grant in self.by_subject.get(subject, ()))


def granted(requested: Iterable[Access], grants: Sequence[Grant]) -> tuple[Access, ...]:
    """The intersection of the request and the grants: each requested access that some grant allows."""
    return tuple(access for access in requested if any(grant.allows(access) for grant in grants))
