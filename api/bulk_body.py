"""Reading a bulk publish body (``POST /v1/bulk/publish``, formats in ``notary.bulk``) within its limits.

The body is first received: its declared length is checked before anything is read, and while it streams
it is counted against ``limits.max_upload_bytes``, hashed (for ``Idempotency-Key``) and spooled to a
temporary file, not kept in memory. It is then parsed from that file: a tar archive member by member, each
member's size checked before it is read; a gzip-compressed archive is also cut off once its decompressed
bytes pass the same limit, so a small body cannot unpack into an unbounded one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from typing import IO, Any

import falcon.asgi

from api.upload import check_declared_size
from notary.bulk import BulkCollector, BulkLimits, BulkRepository, archive_entry, collect_json
from notary.errors import MalformedUploadError, PayloadTooLargeError, UnsupportedMediaTypeError

JSON = "json"
TAR = "tar"
GZIP_TAR = "tar+gzip"
MEDIA_TYPES = {
    "application/json": JSON,
    "application/x-tar": TAR,
    "application/tar": TAR,
    "application/gzip": GZIP_TAR,
    "application/x-gzip": GZIP_TAR,
}
SPOOL_IN_MEMORY = 1024 * 1024


@dataclass
class ReceivedBody:
    form: str  # JSON, TAR or GZIP_TAR
    file: IO[bytes]
    sha256: str

    def close(self) -> None:
        self.file.close()


def body_form(req: falcon.asgi.Request) -> str:
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    encoding = (req.get_header("Content-Encoding") or "identity").strip().lower()
    form = MEDIA_TYPES.get(media_type)
    if form == TAR and encoding == "gzip":
        form = GZIP_TAR
    elif encoding != "identity" and not (form == GZIP_TAR and encoding == "gzip"):
        form = None
    if form is None:
        raise UnsupportedMediaTypeError(
            {"accepted": sorted(MEDIA_TYPES), "content_encoding": ["gzip (for archives)"]},
            message="The body must be JSON or a tar archive (optionally gzip-compressed).",
        )
    return form


async def receive_body(req: falcon.asgi.Request, max_upload_bytes: int) -> ReceivedBody:
    """Spool the body to a temporary file; 413 before reading when its declared length is too large, and
    as soon as it streams past the limit."""
    check_declared_size(req, max_upload_bytes)
    form = body_form(req)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    digest = hashlib.sha256()
    received = 0
    try:
        async for chunk in req.stream:
            received += len(chunk)
            if received > max_upload_bytes:
                raise PayloadTooLargeError({"limit": max_upload_bytes})
            digest.update(chunk)
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return ReceivedBody(form, spool, digest.hexdigest())


def parse_body(
    body: ReceivedBody, limits: BulkLimits, max_upload_bytes: int
) -> tuple[list[BulkRepository], str | None]:
    """The repositories, in request order, and the JSON body's ``callback_url``. Blocking: run in a thread."""
    collector = BulkCollector(limits)
    if body.form == JSON:
        try:
            document = json.load(body.file, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MalformedUploadError({"problem": "the body is not JSON"}) from None
        callback_url = collect_json(document, collector)
        return collector.result(), callback_url
    source: Any = body.file
    if body.form == GZIP_TAR:
        source = _Capped(gzip.GzipFile(fileobj=body.file, mode="rb"), max_upload_bytes)
    try:
        with tarfile.open(fileobj=source, mode="r|") as archive:
            for member in archive:
                _collect_member(archive, member, collector)
    except (tarfile.TarError, OSError, EOFError, zlib.error):
        raise MalformedUploadError({"problem": "the body is not a readable tar archive"}) from None
    return collector.result(), None


def _collect_member(archive: tarfile.TarFile, member: tarfile.TarInfo, collector: BulkCollector) -> None:
    if member.isdir():
        return
    if not member.isfile():
        raise MalformedUploadError({"entry": member.name[:300], "problem": "entries must be regular files"})
    gun, name = archive_entry(member.name)
    collector.repository(gun, repeatable=True)
    collector.check_size(gun, name, member.size)
    extracted = archive.extractfile(member)
    assert extracted is not None  # a regular file always has content
    collector.file(gun, name, extracted.read())


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


class _Capped:
    """A reader that refuses to return more than ``limit`` bytes in total (413 past it)."""

    def __init__(self, source: gzip.GzipFile, limit: int) -> None:
        self.source = source
        self.limit = limit
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size if size >= 0 else self.limit + 1)
        self.total += len(data)
        if self.total > self.limit:
            raise PayloadTooLargeError({"limit": self.limit, "decompressed": True})
        return data
