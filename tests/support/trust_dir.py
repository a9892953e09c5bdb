"""Trust directories as the Go ``notary`` client keeps them (``<dir>/<gun>/metadata/<role>.json``), for
``notary-publish push``.

    files = Repo(gun).init(timestamp_public=Key.generate())     # tests.support.tuf_builder
    write_repository(tmp_path / "tuf", gun, files)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .tuf_builder import Key, Repo


def write_repository(root: Path, gun: str, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` ({role: bytes}) under ``root/<gun>/metadata/``; returns that folder."""
    metadata = root.joinpath(*gun.split("/"), "metadata")
    for role, data in files.items():
        path = metadata.joinpath(*f"{role}.json".split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return metadata


def initial_files(gun: str, timestamp_key: Key | None = None) -> dict[str, bytes]:
    """root, targets and snapshot of a new repository (``notary init -p``), listing ``timestamp_key`` (a
    fresh key unless given: enough for tests that never reach a server)."""
    return Repo(gun).init(timestamp_public=timestamp_key or Key.generate())
