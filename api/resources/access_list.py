"""``GET``/``DELETE /v1/access-list/{instance_id}``: an operator reads or clears an instance's replay
protection (its first login's nonce and newest pendingTime), e.g. for an instance that lost its nonce.
Under token auth both need the admin scope."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import falcon
import falcon.asgi

from api.auth import require
from models import shared_keys as store
from models.db import Database
from notary.auth.access import ADMIN
from notary.errors import AccessEntryNotFoundError

log = logging.getLogger("notary.keys")
MAX_INSTANCE_ID = 64


class AccessListResource:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, instance_id: str) -> None:
        require(req, ADMIN)

        def read() -> dict[str, Any] | None:
            with self.database.read() as session:
                return store.access_entry(session, instance_id)

        found = await asyncio.to_thread(read) if len(instance_id) <= MAX_INSTANCE_ID else None
        if found is None:
            raise AccessEntryNotFoundError()
        resp.media = found

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, instance_id: str) -> None:
        token = require(req, ADMIN)

        def delete() -> bool:
            with self.database.transaction() as session:
                return store.delete_access_entry(session, instance_id)

        if len(instance_id) > MAX_INSTANCE_ID or not await asyncio.to_thread(delete):
            raise AccessEntryNotFoundError()
        by = "no token auth" if token is None else f"token:{token.subject}"
        log.info("access-list entry deleted", extra={"instance": instance_id, "by": by})
        resp.status = falcon.HTTP_204
