"""Reading notary's multipart update (``POST /v2/{gun}/_trust/tuf/``) with its limits.

Sizes are checked before reading: a declared Content-Length over the upload limit is refused at once, and a
streamed body is cut off at the limit. Each part's ``filename`` is used raw (delegations arrive as
``targets/releases``; basenaming would turn them into ``releases``), with an optional ``.json`` stripped.
The same role twice: the last part wins, as in notary.
"""

from __future__ import annotations

import falcon
import falcon.asgi
from falcon.media.multipart import MultipartParseError

from notary.errors import (
    InvalidRoleError,
    MalformedJSONError,
    MalformedUploadError,
    NoFilenameError,
    PayloadTooLargeError,
)
from notary.tuf import roles
from notary.tuf.metadata import MalformedMetadataError, SignedMetadata, parse_metadata

MAX_PARTS = 256


def multipart_handler(max_part_bytes: int) -> falcon.media.MultipartFormHandler:
    handler = falcon.media.MultipartFormHandler()
    handler.parse_options.max_body_part_buffer_size = max_part_bytes
    handler.parse_options.max_body_part_count = MAX_PARTS
    return handler


def check_declared_size(req: falcon.asgi.Request, max_upload_bytes: int) -> None:
    if req.content_length is not None and req.content_length > max_upload_bytes:
        raise PayloadTooLargeError({"limit": max_upload_bytes})


def role_of(filename: str | None) -> str:
    if not filename:
        raise NoFilenameError()
    role = filename.removesuffix(".json")
    if not roles.is_valid_role(role):
        raise InvalidRoleError(role)
    return role


async def read_update(
    req: falcon.asgi.Request, handler: falcon.media.MultipartFormHandler, max_upload_bytes: int
) -> dict[str, SignedMetadata]:
    check_declared_size(req, max_upload_bytes)
    content_type = req.content_type or ""
    # Go's multipart reader takes any multipart/* type, so notary does too.
    if not content_type.lower().startswith("multipart/"):
        raise MalformedUploadError()
    uploads: dict[str, SignedMetadata] = {}
    total = 0
    try:
        form = await handler.deserialize_async(req.stream, content_type, req.content_length)
        async for part in form:
            role = role_of(part.filename)
            data = await part.get_data()
            total += len(data)
            if total > max_upload_bytes:
                raise PayloadTooLargeError({"limit": max_upload_bytes})
            try:
                uploads[role] = parse_metadata(role, data)
            except MalformedMetadataError:
                raise MalformedJSONError() from None
    except MultipartParseError as error:
        if "too large" in (error.description or ""):
            raise PayloadTooLargeError({"part_limit": True}) from None
        raise MalformedUploadError() from None
    except falcon.HTTPError:  # e.g. a multipart Content-Type without a boundary
        raise MalformedUploadError() from None
    return uploads
