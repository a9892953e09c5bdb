"""The directory ``notary-publish push`` reads: the Go ``notary`` client's own trust-data layout.

    DIR/<gun>/metadata/root.json
    DIR/<gun>/metadata/targets.json
    DIR/<gun>/metadata/snapshot.json
    DIR/<gun>/metadata/targets/<delegation>.json      (e.g. targets/releases.json)

A GUN may contain ``/`` (``example.com/team/app``), so its folder is nested, exactly as the Go client keeps
``~/.notary/tuf/<gun>/metadata/``: pointing at ``~/.notary/tuf`` publishes every repository cached there.
Any folder holding a ``metadata`` folder is a repository; its other folders (the client's ``changelist``)
are ignored. ``timestamp.json`` is skipped because the server always makes its own timestamp.

Everything is checked before anything is sent, and every problem is reported at once: each file must be a
known role name, valid UTF-8 (the JSON transport carries the exact bytes as text) and a signed TUF document;
each repository must have something to publish. The TUF checks themselves (signatures, versions, hashes)
are the server's: it reports them per repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from notary.client.publish.errors import LayoutError
from notary.tuf.metadata import MalformedMetadataError, parse_metadata
from notary.tuf.roles import TIMESTAMP, depth, is_valid_role

METADATA_DIR: Final = "metadata"
SUFFIX: Final = ".json"
MAX_GUN_LENGTH: Final = 255  # the stores' column
# The upload order of the Go client: root, targets, delegations (shallowest first), snapshot.
_ROLE_RANK: Final = {"root": 0, "targets": 1, "snapshot": 3}


@dataclass(frozen=True)
class Repository:
    gun: str
    files: dict[str, bytes]  # role -> exact file bytes, in upload order

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())


def upload_order(role: str) -> tuple[int, int, str]:
    return (_ROLE_RANK.get(role, 2), depth(role), role)


def scan(directory: Path) -> list[Repository]:
    """Every repository under ``directory``, sorted by GUN; raises ``LayoutError`` listing every problem."""
    if not directory.is_dir():
        raise LayoutError([f"{directory} is not a directory"])
    if (directory / METADATA_DIR).is_dir():
        raise LayoutError(
            [f"{directory} is itself a repository folder: point at the folder that holds <gun>/metadata/"]
        )
    problems: list[str] = []
    repositories = [
        repository
        for folder in _repository_folders(directory)
        if (repository := _read_repository(directory, folder, problems)) is not None
    ]
    if not repositories and not problems:
        problems.append(f"no repositories under {directory}: expected <gun>/metadata/<role>.json files")
    if problems:
        raise LayoutError(problems)
    return sorted(repositories, key=lambda repository: repository.gun)


def _repository_folders(directory: Path) -> list[Path]:
    found = []
    for current, folders, _ in os.walk(directory):
        if METADATA_DIR in folders:
            found.append(Path(current))
            folders.remove(METADATA_DIR)  # delegation files live below it, not other repositories
        folders.sort()
    return found


def _read_repository(directory: Path, folder: Path, problems: list[str]) -> Repository | None:
    gun = folder.relative_to(directory).as_posix()
    if len(gun) > MAX_GUN_LENGTH or "*" in gun or not gun.isprintable():
        shown = gun[:MAX_GUN_LENGTH].encode("unicode_escape").decode("ascii")
        problems.append(f"{shown}: a GUN has at most {MAX_GUN_LENGTH} printable characters and no '*'")
        return None
    problems_before = len(problems)
    metadata = folder / METADATA_DIR
    files: dict[str, bytes] = {}
    for path in sorted(metadata.rglob("*")):
        if path.is_dir():
            continue
        name = path.relative_to(metadata).as_posix()
        role = name.removesuffix(SUFFIX)
        if not name.endswith(SUFFIX) or not is_valid_role(role):
            problems.append(f"{gun}: {METADATA_DIR}/{name} is not <role>.json for a TUF role")
            continue
        if role == TIMESTAMP:
            continue
        try:
            files[role] = _read_metadata(role, path)
        except _FileProblem as problem:
            problems.append(f"{gun}: {METADATA_DIR}/{name}: {problem}")
    if not files and len(problems) == problems_before:
        problems.append(f"{gun}: nothing to publish in {METADATA_DIR}/ (timestamp.json alone is never sent)")
        return None
    return Repository(gun, {role: files[role] for role in sorted(files, key=upload_order)})


class _FileProblem(Exception):
    pass


def _read_metadata(role: str, path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _FileProblem(f"cannot read it ({error.strerror or type(error).__name__})") from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _FileProblem("not UTF-8 text") from None
    try:
        parse_metadata(role, raw)
    except MalformedMetadataError as error:
        raise _FileProblem(str(error).removeprefix(f"{role}: ")) from None
    return raw
