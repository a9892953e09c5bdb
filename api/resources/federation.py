"""``GET /v1/federation/keys/{identity}``: the issuing side of datacenter federation (shared-keys.md
section 7). Serves one of this datacenter's usable keys, secret included, to the Notary of another
datacenter, which signs the request with a key issued here that holds ``notary:key-federation``. Anyone else
gets 401 UNAUTHORIZED or 403 FORBIDDEN; an unknown, expired or revoked key, or one of another datacenter,
is 404 KEY_NOT_FOUND. Each key served is audited (caller and identity, never the secret)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import falcon.asgi

from api.resources.keys import KeyService
from models import shared_keys as store
from notary import errors
from notary.keys.federation import FEDERATION_ROLE, issuing_dc, served_key

log = logging.getLogger("notary.federation")


class ServedKeyResource:
    def __init__(self, service: KeyService) -> None:
        self.service = service
        self.dc: str = service.settings["keys.dc"]

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, identity: str) -> None:
        _body, caller_key = await self.service.authenticate(req, 0)
        caller = caller_key.identity
        if FEDERATION_ROLE not in caller_key.roles:
            raise errors.ForbiddenError({"role": FEDERATION_ROLE})
        # Only keys issued here: a Notary never passes on another datacenter's key, not even one it holds.
        key = await self.service.keys.get(identity) if issuing_dc(identity) == self.dc else None
        if key is None:
            raise errors.KeyNotFoundError()
        await asyncio.to_thread(self._audit, identity, caller)
        log.info("served a key to a peer datacenter", extra={"identity": identity, "caller": caller})
        resp.set_header("Cache-Control", "no-store")
        resp.media = served_key(key.identity, key.secrets, key.roles, key.expires_at, datetime.now(UTC))

    def _audit(self, identity: str, caller: str) -> None:
        with self.service.database.transaction() as session:
            store.audit(session, identity, "served_to_peer", to=caller)
