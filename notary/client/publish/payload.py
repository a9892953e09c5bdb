"""The body of ``POST /v1/bulk/publish`` and the Idempotency-Key that makes re-sending it harmless.

Two encodings of the same repositories, both keeping every file's exact bytes (the server hashes them):

- JSON, ``{"repositories": [{"gun", "files": {role: text}}], "callback_url"?}``: each file is sent as a
  string (the file is UTF-8, so decoding and the server's re-encoding give back the same bytes);
- tar (``application/x-tar``), one ``<gun>/_trust/tuf/<role>.json`` entry per file (its ``/v2`` path, in
  which ``/_trust/tuf/`` splits GUN from role although both contain ``/``), written to a temporary file so
  that a large batch is streamed from disk rather than held in memory. A callback URL goes in the query.

Both are deterministic (sorted GUNs, fixed entry metadata), so a retry sends the very same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from typing import IO, Final

from notary.client.publish.layout import Repository

JSON_TYPE: Final = "application/json"
TAR_TYPE: Final = "application/x-tar"
ARCHIVE_SEPARATOR: Final = "/_trust/tuf/"
_KEY_FORMAT: Final = "notary-publish/1"


def idempotency_key(repositories: Sequence[Repository], callback_url: str | None) -> str:
    """The sha256 (hex) of what is published: every GUN, role and file digest, and the callback URL.

    The same content gives the same key whichever folder it is read from, so re-running a push after a
    network failure finds the job the first run created instead of publishing again.
    """
    manifest = {
        "format": _KEY_FORMAT,
        "callback_url": callback_url,
        "repositories": [
            [
                repository.gun,
                [[role, hashlib.sha256(data).hexdigest()] for role, data in repository.files.items()],
            ]
            for repository in sorted(repositories, key=lambda repository: repository.gun)
        ],
    }
    return hashlib.sha256(json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()).hexdigest()


def json_body(repositories: Sequence[Repository], callback_url: str | None) -> bytes:
    document: dict[str, object] = {
        "repositories": [
            {
                "gun": repository.gun,
                "files": {role: data.decode("utf-8") for role, data in repository.files.items()},
            }
            for repository in repositories
        ]
    }
    if callback_url is not None:
        document["callback_url"] = callback_url
    return json.dumps(document, separators=(",", ":")).encode("ascii")


def tar_member_name(gun: str, role: str) -> str:
    return f"{gun}{ARCHIVE_SEPARATOR}{role}.json"


def write_tar(repositories: Sequence[Repository], out: IO[bytes]) -> None:
    """The tar of every file, POSIX pax format (GUNs may exceed ustar's 100-character names)."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for repository in repositories:
            for role, data in repository.files.items():
                entry = tarfile.TarInfo(tar_member_name(repository.gun, role))
                entry.size = len(data)
                entry.mode = 0o644
                entry.mtime = 0  # deterministic: the same files always make the same body
                archive.addfile(entry, io.BytesIO(data))
    out.flush()
    out.seek(0)
