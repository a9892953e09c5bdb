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


class Heartbeat:
    """Refreshes ``key`` from a daemon thread until :meth:`stop`, which also deletes it."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.client = client
        self.key = key
        self._hostname = socket.gethostname()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.client.set(self.key, self._hostname, ex=TTL_SECONDS)
            except redis.RedisError:
                log.warning("heartbeat could not reach Redis", extra={"key": self.key})
            self._stopping.wait(INTERVAL_SECONDS)
        with contextlib.suppress(redis.RedisError):
            self.client.delete(self.key)

    def stop(self, timeout: float = 5.0) -> None:
        """Gone before the process is: nobody is told it is alive for the rest of the TTL."""
        self._stopping.set()
        self._thread.join(timeout)
