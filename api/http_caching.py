"""HTTP caching of metadata responses.

notary's Cache-Control policy (by addressing mode, configurable max-age, 0 meaning no caching), plus what
notary lacks: a valid GMT Last-Modified, a strong ETag, and 304 for a matching If-None-Match."""

from __future__ import annotations

import falcon
import falcon.asgi

from api.metadata_cache import CachedFile

TEXT = "text/plain; charset=utf-8"


def cache_control(max_age: int, *, current: bool) -> str:
    if max_age == 0:
        return "max-age=0, no-cache, no-store"
    if current:
        return f"public, max-age={max_age}, s-maxage={max_age}, must-revalidate"
    return f"public, max-age={max_age}, s-maxage={max_age}"


def _matches(if_none_match: str, etag: str) -> bool:
    if if_none_match.strip() == "*":
        return True
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return etag in candidates


def serve_file(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, file: CachedFile, max_age: int, *, current: bool
) -> None:
    etag = file.etag
    resp.set_header("ETag", etag)
    resp.set_header("Cache-Control", cache_control(max_age, current=current))
    if max_age == 0:
        resp.set_header("Pragma", "no-cache")
    resp.set_header("Last-Modified", file.last_modified_header)
    if_none_match = req.get_header("If-None-Match")
    if if_none_match and _matches(if_none_match, etag):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = TEXT
    resp.data = file.data
