"""Cache invalidation for metadata reads: writers wait until every API process has forgotten the GUN.

API processes cache metadata in memory and answer reads with no database or Redis round trip. So the WRITE
side carries the cost: after committing a change to a GUN (a publish, a refresh, a delete), the writer
publishes the GUN on ``notary:tuf:changed`` and waits until every live API process has acknowledged it,
BEFORE its client is answered. Then no client can read older metadata after its own 200, from any process.

Liveness makes the wait bounded and safe. Each API process registers itself (``notary:api:processes``, a
sorted set scored by Redis time) and pings itself every ``PING_SECONDS`` on its own channel through the same
subscription; it uses its cache only while its newest processed ping is younger than ``LIVE_SECONDS``.
Redis delivers one connection's messages in order, so a process that has not processed a change cannot have
processed any later ping: at most ``LIVE_SECONDS`` after the change it stops using its cache. Writers
therefore wait at most ``WAIT_SECONDS`` (> ``LIVE_SECONDS``) for a process that does not acknowledge.
"""

from __future__ import annotations

import json
import time
import uuid

import redis

CHANGES_CHANNEL = "notary:tuf:changed"
PING_CHANNEL = "notary:tuf:ping:{process}"
PROCESSES_KEY = "notary:api:processes"
ACK_KEY = "notary:tuf:ack:{change}"
PING_SECONDS = 0.5
LIVE_SECONDS = 1.5
WAIT_SECONDS = 2.0
ACK_TTL_SECONDS = 30


def change_message(guns: list[str]) -> tuple[str, str]:
    change = uuid.uuid4().hex
    return change, json.dumps({"guns": guns, "change": change})


def _redis_now_ms(time_reply: tuple[int, int]) -> int:
    seconds, microseconds = time_reply
    return int(seconds) * 1000 + int(microseconds) // 1000


def announce_change(client: redis.Redis, gun: str) -> int:
    """Publish a change of ``gun`` and wait for every live API process; returns how many acknowledged.
    Blocking: the API's DELETE runs it in a thread."""
    return announce_changes(client, [gun])


def announce_changes(client: redis.Redis, guns: list[str]) -> int:
    """``announce_change`` for several GUNs at once: one message and one round of acknowledgements."""
    change, message = change_message(guns)
    now_ms = _redis_now_ms(client.time())
    live = {
        member.decode() if isinstance(member, bytes) else str(member)
        for member in client.zrangebyscore(PROCESSES_KEY, now_ms - LIVE_SECONDS * 1000, "+inf")
    }
    client.publish(CHANGES_CHANNEL, message)
    acknowledged: set[str] = set()
    deadline = time.monotonic() + WAIT_SECONDS
    while not live <= acknowledged:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        popped = client.blpop([ACK_KEY.format(change=change)], timeout=max(remaining, 0.01))
        if popped is not None:
            value = popped[1]
            acknowledged.add(value.decode() if isinstance(value, bytes) else str(value))
    return len(acknowledged & live)
