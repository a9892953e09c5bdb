"""Per-GUN change tokens in Redis: a fresh random value set after every commit or delete of a repository,
before its client is answered. API processes compare tokens to know whether a cached read is current
(see api/metadata_cache.py). Random rather than counters, so a Redis that lost its data can never make an
old cache entry look current again."""

from __future__ import annotations

import secrets

import redis
import redis.asyncio as aioredis

TOKEN_PREFIX = "notary:tuf:token:"  # noqa: S105 - a Redis key prefix, not a secret


def token_key(gun: str) -> str:
    return TOKEN_PREFIX + gun


def mark_changed(client: redis.Redis, gun: str) -> None:
    client.set(token_key(gun), secrets.token_hex(16))


async def amark_changed(client: aioredis.Redis, gun: str) -> None:
    await client.set(token_key(gun), secrets.token_hex(16))
