"""The notary-server API under ``/v2`` (one sink; see api.routing for why)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

import falcon
import falcon.asgi
import redis

from api import routing
from api.auth import require
from api.http_caching import TEXT, serve_file
from api.job_runner import JobRunner
from api.metadata_cache import MetadataCache
from api.metadata_reads import MetadataReads
from api.responding import callback_url_of, run_job
from api.signer_presence import SignerPresence
from api.upload import multipart_handler, read_update
from models.db import Database
from models.tuf_files import SqlTufStore
from notary.auth.access import required_accesses
from notary.errors import InvalidParametersError, NotFoundError
from notary.guns import prefix_error
from notary.settings import Settings
from notary.tuf.keys import PublicKey
from notary.tuf.timefmt import format_go_time
from workers.cache_invalidation import announce_change

Handler = Callable[[falcon.asgi.Request, falcon.asgi.Response, dict[str, str]], Awaitable[None]]
DEFAULT_RECORDS = 100
INT32 = 2**31


class NotaryApi:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        runner: JobRunner,
        signer: SignerPresence,
        cache: MetadataCache,
        sync_redis: redis.Redis,
    ) -> None:
        self.settings = settings
        self.database = database
        self.runner = runner
        self.signer = signer
        self.cache = cache
        self.sync_redis = sync_redis
        self.reads = MetadataReads(database, cache, runner, signer, settings["jobs.wait_timeout"])
        self.multipart = multipart_handler(settings["limits.max_part_bytes"])
        self.gun_prefixes: tuple[str, ...] = settings["repositories.gun_prefixes"]
        self.current_max_age: int = settings["caching.max_age.current_metadata"]
        self.consistent_max_age: int = settings["caching.max_age.consistent_metadata"]
        self.handlers: dict[tuple[str, str], Handler] = {
            ("Ping", "GET"): self.ping,
            ("UpdateTUF", "POST"): self.update,
            ("UpdateTUF", "DELETE"): self.delete,
            ("GetRole", "GET"): self.get_current,
            ("GetRole", "HEAD"): self.get_current,
            ("GetRoleByHash", "GET"): self.get_by_checksum,
            ("GetRoleByHash", "HEAD"): self.get_by_checksum,
            ("GetRoleByVersion", "GET"): self.get_by_version,
            ("GetRoleByVersion", "HEAD"): self.get_by_version,
            ("GetKey", "GET"): self.get_key,
            ("GetKey", "POST"): self.rotate_key,
            ("Changefeed", "GET"): self.changefeed,
            ("GlobalChangefeed", "GET"): self.changefeed,
        }

    async def __call__(self, req: falcon.asgi.Request, resp: falcon.asgi.Response | None, **_: Any) -> None:
        assert resp is not None  # None only for WebSocket requests, which no /v2 route accepts
        cleaned = routing.clean_path(req.path)
        if cleaned != req.path:
            resp.status = falcon.HTTP_301
            resp.location = cleaned + (f"?{req.query_string}" if req.query_string else "")
            return
        route, params = routing.match(req.path)
        req.context.route_template = route.template
        gun = params.get("gun")
        refused = None if gun is None else prefix_error(gun, self.gun_prefixes)
        if refused is not None:
            if route.name == "UpdateTUF" and req.method == "POST":
                raise refused
            raise NotFoundError()
        require(req, *required_accesses(route.name, req.method, gun))  # after the prefix check, as notary
        handler = self.handlers.get((route.name, req.method))
        if handler is None:
            # notary answers every unknown route and method with METADATA_NOT_FOUND, without detail.
            raise NotFoundError()
        await handler(req, resp, params)

    async def ping(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        resp.content_type = TEXT
        resp.data = b"{}"

    # --- writes

    async def update(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        uploads = await read_update(req, self.multipart, self.settings["limits.max_upload_bytes"])
        callback_url = callback_url_of(req, self.settings)
        await self.signer.require()

        def published(response: falcon.asgi.Response, result: Any) -> None:
            # notary answers 200 with an empty body; the Go client reads at once, so we answer after commit.
            response.content_type = TEXT
            response.data = b""

        files = {role: base64.b64encode(metadata.raw).decode() for role, metadata in uploads.items()}
        await run_job(
            req,
            resp,
            self.runner,
            self.settings["jobs.wait_timeout"],
            "tuf.verify_upload",
            {"files": files},
            gun=params["gun"],
            callback_url=callback_url,
            on_success=published,
            settle=True,  # the client reads right after its 200: every API process must have forgotten first
        )

    async def delete(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        gun = params["gun"]

        def remove() -> int:
            with self.database.transaction() as session:
                return SqlTufStore(session).delete_gun(gun)

        if await asyncio.to_thread(remove):
            await asyncio.to_thread(announce_change, self.sync_redis, gun)
        resp.content_type = TEXT
        resp.data = b""

    # --- reads

    async def get_current(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        found = await self.reads.current(params["gun"], params["role"])
        serve_file(req, resp, found, self.current_max_age, current=True)

    async def get_by_checksum(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        found = await self.reads.by_checksum(params["gun"], params["role"], params["checksum"])
        serve_file(req, resp, found, self.consistent_max_age, current=False)

    async def get_by_version(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        version = int(params["version"])
        if version >= INT32:
            raise NotFoundError({})
        found = await self.reads.by_version(params["gun"], params["role"], version)
        serve_file(req, resp, found, self.consistent_max_age, current=False)

    # --- server keys

    async def _key_job(
        self, task: str, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        callback_url = callback_url_of(req, self.settings)
        await self.signer.require()

        def render(response: falcon.asgi.Response, result: Any) -> None:
            response.content_type = TEXT
            response.data = PublicKey(result["keytype"], result["public"]).to_json_bytes()

        await run_job(
            req,
            resp,
            self.runner,
            self.settings["jobs.wait_timeout"],
            task,
            {"role": params["role"]},
            gun=params["gun"],
            callback_url=callback_url,
            on_success=render,
        )

    async def get_key(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        await self._key_job("signer.get_key", req, resp, params)

    async def rotate_key(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        await self._key_job("signer.rotate_key", req, resp, params)

    # --- changefeed

    async def changefeed(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        records, change_id = changefeed_parameters(req)
        gun = params.get("gun")

        def read() -> list[dict[str, Any]]:
            with self.database.read() as session:
                entries = SqlTufStore(session).changefeed(gun, change_id, records)
                return [
                    {
                        "ID": str(entry.id),
                        "CreatedAt": format_go_time(entry.created_at),
                        "GUN": entry.gun,
                        "Version": entry.version,
                        "SHA256": entry.sha256,
                        "Category": entry.category,
                    }
                    for entry in entries
                ]

        entries = await asyncio.to_thread(read)
        resp.content_type = TEXT
        resp.data = json.dumps({"count": len(entries), "records": entries}, separators=(",", ":")).encode()


def changefeed_parameters(req: falcon.asgi.Request) -> tuple[int, int]:
    """notary's rules: ``records`` is required and an int32 (0 means 100, negative reads backwards);
    ``change_id`` is an int32, defaults to 0 and is exclusive; a negative one starts from the newest."""
    raw_records = req.get_param("records") or ""
    try:
        records = int(raw_records)
    except ValueError:
        raise InvalidParametersError(f"invalid records parameter: {raw_records!r}") from None
    if not -INT32 <= records < INT32:
        raise InvalidParametersError(f"invalid records parameter: {raw_records!r}")
    raw_change_id = req.get_param("change_id") or "0"
    try:
        change_id = int(raw_change_id)
    except ValueError:
        raise InvalidParametersError({}) from None
    if not -INT32 <= change_id < INT32:
        raise InvalidParametersError({})
    return (records or DEFAULT_RECORDS), change_id
