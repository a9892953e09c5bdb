"""Bulk publishing requests: many repositories' updates in one body, read into ``BulkRepository`` values.

Two body forms carry the same thing:

* JSON: ``{"repositories": [{"gun": "...", "files": {"<role>": <file>}}], "callback_url": "..."}``. A file
  given as a JSON object is stored in the Go client's byte form (``notary.tuf.metadata.file_bytes``); a file
  given as a string is stored as its exact UTF-8 bytes.
* A tar archive whose entries are named ``<gun>/_trust/tuf/<role>.json``, the ``/v2`` path of the file without
  ``/v2/``. The separator ``/_trust/tuf/`` must occur exactly once in a name, which makes every name
  unambiguous although GUNs and delegation roles both contain ``/`` (a name where it occurs twice is refused).
  Entries of one GUN need not be adjacent. Directory entries are skipped; any other non-file entry is refused.

Whole-request problems (the body's shape, its limits, a GUN longer than any stored one) refuse the request.
What a single ``POST {T}/`` would refuse for one repository before its job runs (the GUN, a role name, a
file that is no JSON document) fails only that repository: it becomes a ``BulkRepository`` with an
``error``, and the others go on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notary.errors import (
    InvalidRoleError,
    MalformedJSONError,
    MalformedUploadError,
    NotaryError,
    PayloadTooLargeError,
    TooManyRepositoriesError,
)
from notary.guns import MAX_GUN_LENGTH, prefix_error, shape_error
from notary.tuf import roles
from notary.tuf.canonical import CanonicalJSONError
from notary.tuf.metadata import file_bytes

ARCHIVE_SEPARATOR = "/_trust/tuf/"
_SEPARATORS = re.compile(f"(?={re.escape(ARCHIVE_SEPARATOR)})")
MAX_FILES_PER_REPOSITORY = 256  # as the parts of one single POST
REQUEST_KEYS = frozenset({"repositories", "callback_url"})
REPOSITORY_KEYS = frozenset({"gun", "files"})


@dataclass(frozen=True)
class BulkRepository:
    gun: str
    files: dict[str, bytes]
    error: NotaryError | None = None  # refused before any job step; the files are then not kept


@dataclass(frozen=True)
class BulkLimits:
    max_repositories: int
    max_file_bytes: int
    gun_prefixes: tuple[str, ...] = ()


@dataclass
class BulkCollector:
    """Gathers repositories in request order while a body is read, enforcing the limits as it goes."""

    limits: BulkLimits
    _files: dict[str, dict[str, bytes]] = field(default_factory=dict)
    _errors: dict[str, NotaryError] = field(default_factory=dict)

    def repository(self, gun: str, *, repeatable: bool = False) -> None:
        """Start (or, when ``repeatable``, continue) the repository ``gun``."""
        if gun in self._files:
            if repeatable:
                return
            raise MalformedUploadError({"gun": gun[:300], "problem": "the GUN appears twice"})
        if len(gun) > MAX_GUN_LENGTH:  # no such repository can exist, nor its result be recorded
            raise MalformedUploadError(
                {"gun": gun[:100] + "...", "problem": f"a GUN is at most {MAX_GUN_LENGTH} characters"}
            )
        if len(self._files) >= self.limits.max_repositories:
            raise TooManyRepositoriesError({"limit": self.limits.max_repositories})
        self._files[gun] = {}
        refused = shape_error(gun) or prefix_error(gun, self.limits.gun_prefixes)
        if refused is not None:
            self._errors[gun] = refused

    def file(self, gun: str, name: str, data: bytes) -> None:
        """One file of ``gun``: ``name`` is its role with an optional ``.json``; the same role twice: the last
        one wins, as in a single POST."""
        self.check_size(gun, name, len(data))
        files = self._files[gun]
        role = name.removesuffix(".json")
        if role not in files and len(files) >= MAX_FILES_PER_REPOSITORY:
            raise PayloadTooLargeError({"gun": gun[:300], "files_limit": MAX_FILES_PER_REPOSITORY})
        if not roles.is_valid_role(role):
            self.fail(gun, InvalidRoleError(role))
        files[role] = data

    def check_size(self, gun: str, name: str, size: int) -> None:
        """413 for a file over the limit (an archive member is checked before it is read)."""
        if size > self.limits.max_file_bytes:
            raise PayloadTooLargeError({"gun": gun[:300], "role": name[:300], "part_limit": True})

    def fail(self, gun: str, error: NotaryError) -> None:
        """The repository fails with the first error found for it."""
        self._errors.setdefault(gun, error)

    def result(self) -> list[BulkRepository]:
        if not self._files:
            raise MalformedUploadError({"problem": "the request names no repository"})
        return [
            BulkRepository(gun, {}, self._errors[gun]) if gun in self._errors else BulkRepository(gun, files)
            for gun, files in self._files.items()
        ]


def json_file_bytes(value: Any) -> bytes:
    """The stored bytes of one file of a JSON request; MalformedJSONError (as a single POST answers for a
    part that is no signed document) when there are none."""
    try:
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, dict):
            return file_bytes(value)
    except (UnicodeEncodeError, CanonicalJSONError):
        pass
    raise MalformedJSONError()


def collect_json(document: Any, collector: BulkCollector) -> str | None:
    """Read a decoded JSON request into ``collector``; returns its ``callback_url`` (None when absent)."""
    if not isinstance(document, dict) or not isinstance(document.get("repositories"), list):
        raise MalformedUploadError({"problem": 'the body must be an object with a "repositories" list'})
    _no_other_keys(document, REQUEST_KEYS, "the request")
    for index, entry in enumerate(document["repositories"]):
        where = f"repositories[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("gun"), str):
            raise MalformedUploadError({"problem": f'{where} must be an object with a "gun" string'})
        if not isinstance(entry.get("files"), dict):
            raise MalformedUploadError({"problem": f'{where} must have a "files" object'})
        _no_other_keys(entry, REPOSITORY_KEYS, where)
        gun = entry["gun"]
        collector.repository(gun)
        for name, value in entry["files"].items():
            try:
                collector.file(gun, name, json_file_bytes(value))
            except MalformedJSONError as malformed:
                collector.fail(gun, malformed)
    callback_url = document.get("callback_url")
    if callback_url is not None and not isinstance(callback_url, str):
        raise MalformedUploadError({"problem": "callback_url must be a string"})
    return callback_url


def _no_other_keys(entry: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise MalformedUploadError({"problem": f"{where} has unknown members", "members": unknown[:10]})


def archive_entry(name: str) -> tuple[str, str]:
    """(gun, role file name) of an archive entry ``<gun>/_trust/tuf/<role>.json``."""
    path = name.removeprefix("./")
    gun, _, role_file = path.partition(ARCHIVE_SEPARATOR)
    # Counted with overlaps: in "a/_trust/tuf/_trust/tuf/root.json" the separator occurs twice.
    if len(_SEPARATORS.findall(path)) != 1 or not role_file.endswith(".json"):
        raise MalformedUploadError(
            {"entry": name[:300], "problem": "entries are named <gun>/_trust/tuf/<role>.json"}
        )
    return gun, role_file
