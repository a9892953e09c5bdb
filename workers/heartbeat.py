"""Heartbeats: a Redis key with a short TTL, refreshed while a Celery process consumes its queues.

The signer's (one key for every signer): the API reads it to fail fast (503 SIGNER_UNAVAILABLE) instead of
waiting for a job no one will run, and the health endpoint reports it without turning unhealthy (reads
still work without a signer). A worker's (one key per process, ``notary:worker:heartbeat:<host>:<pid>``):
it says that this worker is consuming, whatever the log level lets Celery print.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import redis

HEARTBEAT_KEY = "notary:signer:heartbeat"
WORKER_HEARTBEAT_PREFIX = "notary:worker:heartbeat:"
INTERVAL_SECONDS = 2.0
TTL_SECONDS = 6

log = logging.getLogger("notary.workers")


def worker_heartbeat_key(hostname: str, pid: int) -> str:
    return f"{WORKER_HEARTBEAT_PREFIX}{hostname}:{pid}"


def beat_once(client: redis.Redis, key: str = HEARTBEAT_KEY) -> None:
    client.set(key, socket.gethostname(), ex=TTL_SECONDS)


def start(client: redis.Redis, key: str = HEARTBEAT_KEY) -> threading.Event:
    """Refresh the heartbeat ``key`` from a daemon thread until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                beat_once(client, key)
            except redis.RedisError:
                log.warning("heartbeat could not reach Redis", extra={"key": key})
            stop.wait(INTERVAL_SECONDS)
        with contextlib.suppress(redis.RedisError):
            client.delete(key)

    threading.Thread(target=loop, name="heartbeat", daemon=True).start()
    return stop
