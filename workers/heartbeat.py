"""The signer's heartbeat: a Redis key with a short TTL, refreshed while a signer consumes its queue.

The API reads it to fail fast (503 SIGNER_UNAVAILABLE) instead of waiting for a job no one will run, and the
health endpoint reports it without turning unhealthy (reads still work without a signer).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import redis

HEARTBEAT_KEY = "notary:signer:heartbeat"
INTERVAL_SECONDS = 2.0
TTL_SECONDS = 6

log = logging.getLogger("notary.signer")


def beat_once(client: redis.Redis) -> None:
    client.set(HEARTBEAT_KEY, socket.gethostname(), ex=TTL_SECONDS)


def start(client: redis.Redis) -> threading.Event:
    """Refresh the heartbeat from a daemon thread until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                beat_once(client)
            except redis.RedisError:
                log.warning("signer heartbeat could not reach Redis")
            stop.wait(INTERVAL_SECONDS)
        with contextlib.suppress(redis.RedisError):
            client.delete(HEARTBEAT_KEY)

    threading.Thread(target=loop, name="signer-heartbeat", daemon=True).start()
    return stop
