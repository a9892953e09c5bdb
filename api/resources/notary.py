"""The notary-server API under ``/v2`` (one sink; see api.routing for why)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import falcon
import falcon.asgi
import redis.asyncio as aioredis

from api import routing
from api.job_runner import JobRunner
from api.responding import callback_url_of, run_job
from notary.errors import InvalidRequestError, NotFoundError, SignerUnavailableError
from notary.settings import Settings
from notary.tuf.keys import PublicKey
from workers.heartbeat import HEARTBEAT_KEY

TEXT = "text/plain; charset=utf-8"  # what Go's content sniffing makes of notary's bodies
Handler = Callable[[falcon.asgi.Request, falcon.asgi.Response, dict[str, str]], Awaitable[None]]


class InvalidGunError(InvalidRequestError):
    code = "INVALID_GUN"
    message = "The server does not support actions on images of this name."


class NotaryApi:
    def __init__(self, settings: Settings, runner: JobRunner, redis_client: aioredis.Redis) -> None:
        self.settings = settings
        self.runner = runner
        self.redis = redis_client
        self.gun_prefixes: tuple[str, ...] = settings["repositories.gun_prefixes"]
        self.handlers: dict[tuple[str, str], Handler] = {
            ("Ping", "GET"): self.ping,
            ("GetKey", "GET"): self.get_key,
            ("GetKey", "POST"): self.rotate_key,
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
        if gun is not None and self.gun_prefixes and not gun.startswith(self.gun_prefixes):
            if route.name == "UpdateTUF":
                raise InvalidGunError(f"Require GUNs with prefix: [{' '.join(self.gun_prefixes)}]")
            raise NotFoundError()
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

    async def _require_signer(self) -> None:
        if not await self.redis.exists(HEARTBEAT_KEY):
            raise SignerUnavailableError()

    async def _key_job(
        self, task: str, req: falcon.asgi.Request, resp: falcon.asgi.Response, params: dict[str, str]
    ) -> None:
        await self._require_signer()

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
            callback_url=callback_url_of(req, self.settings),
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
