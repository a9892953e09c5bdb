"""Change notifications: ``/v1/subscriptions`` (create, list, read, delete) and, for operators, a
subscription's deliveries with their attempt logs and the replay of deliveries that gave up.

Under token auth every handler needs the admin scope (``notary:admin:*``): a subscription receives events
of every repository it matches, and its deliveries show what was sent."""

from __future__ import annotations

import asyncio
from typing import Any

import falcon
import falcon.asgi
from celery import Celery

from api.auth import require
from api.resources.keys import Responders, read_json
from models import subscriptions as records
from models.db import Database
from notary import webhooks
from notary.auth.access import ADMIN
from notary.errors import (
    DeliveryNotFailedError,
    DeliveryNotFoundError,
    InvalidParametersError,
    SubscriptionNotFoundError,
    WebhooksDisabledError,
    WebhookTargetRefusedError,
)
from notary.sealing import seal
from notary.settings import Settings
from notary.subscriptions import parse_request, secret_aad, secret_sealing_keys
from workers.webhook_targets import RefusedTarget, resolve

MAX_BODY = 16 * 1024
MAX_ID_LENGTH = 32
DEFAULT_PAGE = 100
MAX_PAGE = 500
DELIVERY_STATES = ("pending", "delivered", "failed")
DELIVER_TASK = "webhooks.deliver"


class SubscriptionService:
    def __init__(self, settings: Settings, database: Database, celery_app: Celery) -> None:
        self.settings = settings
        self.database = database
        self.celery_app = celery_app

    # --- /v1/subscriptions

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        require(req, ADMIN)
        server_secret: str | None = self.settings["webhooks.secret"]
        if not server_secret:
            raise WebhooksDisabledError()
        _, document = await read_json(req, MAX_BODY)
        request = parse_request(document)
        try:  # the same rule as at delivery time, checked now so a mistake is seen at once
            await asyncio.to_thread(resolve, request.url, self.settings["webhooks.allow_private_targets"])
        except RefusedTarget as refused:
            raise WebhookTargetRefusedError(str(refused)) from None
        secret = webhooks.new_secret()
        subscription_id = records.new_id()
        sealed = seal(secret_sealing_keys(server_secret), secret.encode(), secret_aad(subscription_id))

        def create() -> dict[str, Any]:
            with self.database.transaction() as session:
                created = records.create(
                    session, subscription_id, request, sealed, self.settings["subscriptions.max_count"]
                )
                return created.to_dict()

        body = await asyncio.to_thread(create)
        resp.status = falcon.HTTP_201
        resp.location = f"/v1/subscriptions/{subscription_id}"
        resp.media = {**body, "secret": secret}  # shown in this response only

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        require(req, ADMIN)

        def read() -> list[dict[str, Any]]:
            with self.database.read() as session:
                return [subscription.to_dict() for subscription in records.list_all(session)]

        resp.media = {"subscriptions": await asyncio.to_thread(read)}

    # --- /v1/subscriptions/{subscription_id}

    async def on_get_one(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, subscription_id: str
    ) -> None:
        require(req, ADMIN)

        def read() -> dict[str, Any] | None:
            with self.database.read() as session:
                row = records.get(session, subscription_id)
                return None if row is None else records.view(row).to_dict()

        found = await asyncio.to_thread(read) if len(subscription_id) <= MAX_ID_LENGTH else None
        if found is None:
            raise SubscriptionNotFoundError({"id": subscription_id[:MAX_ID_LENGTH]})
        resp.media = found

    async def on_delete_one(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, subscription_id: str
    ) -> None:
        require(req, ADMIN)

        def remove() -> bool:
            with self.database.transaction() as session:
                return records.remove(session, subscription_id)

        if len(subscription_id) > MAX_ID_LENGTH or not await asyncio.to_thread(remove):
            raise SubscriptionNotFoundError({"id": subscription_id[:MAX_ID_LENGTH]})
        resp.status = falcon.HTTP_204

    # --- deliveries

    async def on_get_deliveries(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, subscription_id: str
    ) -> None:
        require(req, ADMIN)
        state = req.get_param("state")
        if state is not None and state not in DELIVERY_STATES:
            raise InvalidParametersError({"state": list(DELIVERY_STATES)})
        after = req.get_param_as_int("after", min_value=0, default=0)
        limit = req.get_param_as_int("limit", min_value=1, max_value=MAX_PAGE, default=DEFAULT_PAGE)

        def read() -> list[dict[str, Any]]:
            with self.database.read() as session:
                self._require(session, subscription_id)
                return records.deliveries(session, subscription_id, state=state, after=after, limit=limit)

        resp.media = {"deliveries": await asyncio.to_thread(read)}

    async def on_post_replay_all(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, subscription_id: str
    ) -> None:
        require(req, ADMIN)

        def replay() -> list[int]:
            with self.database.transaction() as session:
                self._require(session, subscription_id)
                return records.replay(session, subscription_id)

        replayed = await asyncio.to_thread(replay)
        await self._send(replayed)
        resp.status = falcon.HTTP_202
        resp.media = {"replayed": replayed}

    async def on_post_replay_one(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, subscription_id: str, delivery_id: int
    ) -> None:
        require(req, ADMIN)

        def replay() -> list[int]:
            with self.database.transaction() as session:
                self._require(session, subscription_id)
                delivery = records.get_delivery(session, subscription_id, delivery_id)
                if delivery is None:
                    raise DeliveryNotFoundError({"id": delivery_id})
                if delivery.state != "failed":
                    raise DeliveryNotFailedError({"id": delivery_id, "state": delivery.state})
                return records.replay(session, subscription_id, [delivery_id])

        replayed = await asyncio.to_thread(replay)
        await self._send(replayed)
        resp.status = falcon.HTTP_202
        resp.media = {"replayed": replayed}

    def _require(self, session: Any, subscription_id: str) -> None:
        if len(subscription_id) > MAX_ID_LENGTH or records.get(session, subscription_id) is None:
            raise SubscriptionNotFoundError({"id": subscription_id[:MAX_ID_LENGTH]})

    async def _send(self, delivery_ids: list[int]) -> None:
        # After the commit; one still waiting behind an earlier delivery of its stream is sent when that one
        # settles (or by beat).
        for delivery_id in delivery_ids:
            await asyncio.to_thread(self.celery_app.send_task, DELIVER_TASK, args=[delivery_id])


def add_routes(
    app: falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response], service: SubscriptionService
) -> None:
    base = "/v1/subscriptions"
    app.add_route(base, Responders(on_post=service.on_post, on_get=service.on_get))
    one = base + "/{subscription_id}"
    app.add_route(one, Responders(on_get=service.on_get_one, on_delete=service.on_delete_one))
    app.add_route(one + "/deliveries", Responders(on_get=service.on_get_deliveries))
    app.add_route(one + "/deliveries/replay", Responders(on_post=service.on_post_replay_all))
    app.add_route(
        one + "/deliveries/{delivery_id:int}/replay", Responders(on_post=service.on_post_replay_one)
    )
