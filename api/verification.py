"""The verdict on one forwarded request, for ``POST /v1/verify`` and each item of ``/v1/verify/batch``
(shared-keys.md sections 5-7): the scheme's checks, then the key (from this datacenter's key cache, or
fetched from the issuing peer for a foreign identity), the HMAC, and the optional replay cache."""

from __future__ import annotations

import time
from typing import Any

from api.key_cache import KeyCache
from api.peer_keys import PeerKeys
from api.replay_cache import REPLAYED, REPLAYED_MESSAGE, ReplayCache
from models.base import iso_utc
from notary import errors
from notary.keys import signature
from notary.keys.federation import UNKNOWN_DATACENTER, issuing_dc
from notary.keys.identity import VerificationKey

_OPTIONAL_STRING = (str, type(None))
# In a batch, these refuse one item (each with its code) instead of the whole batch.
ITEM_UNAVAILABLE = (errors.FederationUnavailableError, errors.ReplayCacheUnavailableError)


def refusal(code: str, message: str) -> dict[str, Any]:
    return {"valid": False, "code": code, "message": message}


def forwarded_request(item: object) -> signature.SignedRequest:
    if not isinstance(item, dict):
        raise errors.InvalidRequestError("each verify request is an object of strings")
    fields = {name: item.get(name) for name in signature.FORWARDED_FIELDS}
    for value in fields.values():
        if not isinstance(value, _OPTIONAL_STRING):
            raise errors.InvalidRequestError("each verify request is an object of strings")
    return signature.SignedRequest(**fields)


class Verifier:
    def __init__(
        self, dc: str, local: KeyCache, peers: PeerKeys, replay: ReplayCache | None, skew_ms: int
    ) -> None:
        self.dc = dc
        self.local = local
        self.peers = peers
        self.replay = replay
        self.skew_ms = skew_ms

    async def verdict(self, item: object, now_ms: int) -> dict[str, Any]:
        """``valid: true`` with the key's roles and expiry, or ``valid: false`` with a stable code. Raises
        InvalidRequestError for a malformed item, and an ITEM_UNAVAILABLE error when the key's datacenter or
        the replay cache cannot be asked."""
        forwarded = forwarded_request(item)
        try:
            claim = signature.check_claim(forwarded, now_ms=now_ms, skew_ms=self.skew_ms)
            dc = issuing_dc(claim.identity)
            if dc is not None and dc != self.dc and not self.peers.knows(dc):
                return refusal(UNKNOWN_DATACENTER, "The key's datacenter has no configured Notary")
            key = await self._key(claim.identity, dc)
            signature.check_hmac(claim, None if key is None else key.secrets)
        except signature.SignatureError as failure:
            return refusal(failure.code, failure.message)
        assert key is not None
        if self.replay is not None and not await self.replay.first_use(claim, now_ms):
            return refusal(REPLAYED, REPLAYED_MESSAGE)
        return {
            "valid": True,
            "identity": key.identity,
            "roles": list(key.roles),
            "expires_at": iso_utc(key.expires_at),
            "ttl": max(0, int(key.expires_at.timestamp() - time.time())),
        }

    async def item_verdict(self, item: object, now_ms: int) -> dict[str, Any]:
        """As ``verdict``, with an unavailable datacenter or replay cache refusing this item only."""
        try:
            return await self.verdict(item, now_ms)
        except ITEM_UNAVAILABLE as unavailable:
            return refusal(unavailable.code, unavailable.message)

    async def _key(self, identity: str, dc: str | None) -> VerificationKey | None:
        if dc is None or dc == self.dc:
            return await self.local.get(identity)
        return await self.peers.get(identity, dc)
