"""A per-process cache of served metadata, so warm reads cost no database round trip.

Correctness across processes (and hosts): every commit or delete of a GUN sets a fresh random *change
token* for it in Redis (workers/change_tokens.py) before the client is answered. Each read fetches the token
(one Redis GET, no database) and uses a cached entry only if it was stored under the same token. So a client
that got its 200 can never read older metadata from another worker. When Redis cannot answer, reads bypass
the cache.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from functools import cached_property

import redis
import redis.asyncio as aioredis

from workers.change_tokens import token_key

log = logging.getLogger("notary.cache")


@dataclass(frozen=True)
class CachedFile:
    data: bytes
    sha256: str
    last_modified: datetime
    expires: datetime | None  # set for the current timestamp and snapshot, whose freshness is checked

    @cached_property
    def etag(self) -> str:
        return f'"{self.sha256}"'

    @cached_property
    def last_modified_header(self) -> str:
        return format_datetime(self.last_modified, usegmt=True)


Key = tuple[str, str, str]  # (gun, addressing, selector)


class MetadataCache:
    def __init__(self, redis_client: aioredis.Redis, max_entries: int = 50_000) -> None:
        self.redis = redis_client
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, tuple[bytes, CachedFile]] = OrderedDict()

    async def token(self, gun: str) -> bytes | None:
        """The GUN's current change token, or None when Redis cannot say (then nothing is cached)."""
        try:
            found = await self.redis.get(token_key(gun))
            if found is None:
                # Never cache under "no token": after Redis lost its data that would match entries cached
                # before. A fresh random token makes every older entry unusable instead.
                await self.redis.set(token_key(gun), secrets.token_hex(16), nx=True)
                found = await self.redis.get(token_key(gun))
        except redis.RedisError:
            log.warning("cannot read change tokens; serving metadata from the database")
            return None
        if found is None:
            return None
        return found.encode() if isinstance(found, str) else bytes(found)

    def get(self, key: Key, token: bytes | None) -> CachedFile | None:
        if token is None:
            return None
        found = self._entries.get(key)
        if found is None or found[0] != token:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Key, value: CachedFile, token: bytes | None) -> None:
        """Store ``value`` read under ``token`` (the token fetched BEFORE the database read, so an entry is
        never newer-labelled than its data)."""
        if token is None:
            return
        self._entries[key] = (token, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
