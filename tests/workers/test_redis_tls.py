"""Redis over TLS with client certificates: the whole stack (API, worker, signer; the Celery broker and
every direct Redis client: job notifications, cache invalidation, heartbeat, health) works against a
redis-server that speaks only TLS and requires a client certificate from our CA, and Redis refuses clients
without one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.api.tuf_helpers import publishes_and_reads
from tests.support.certificates import ThrowawayCA, redis_tls_files
from tests.support.processes import NotaryStack
from tests.support.servers import TlsRedisServer


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedisServer]:
    root = tmp_path_factory.mktemp("redis-tls")
    server = TlsRedisServer.start(root / "redis", tls=redis_tls_files(root / "tls", ThrowawayCA()))
    yield server
    server.stop()


def stack_over_tls(root: Path, server: TlsRedisServer) -> NotaryStack:
    """A stack whose every Redis client, the broker's included, connects with TLS and a client certificate."""
    tls = server.tls
    broker = {
        "tls_ca_file": str(tls.ca_file),
        "tls_cert_file": str(tls.client_cert),
        "tls_key_file": str(tls.client_key),
    }
    return NotaryStack(
        root / "notary",
        server.url,
        f"sqlite:///{root}/notary.db",
        config={"broker": broker},
        redis_options=tls.client_options(),
    )


def test_the_stack_publishes_and_reads_over_tls(tls_redis: TlsRedisServer, tmp_path: Path) -> None:
    stack = stack_over_tls(tmp_path, tls_redis)
    try:
        stack.start_all()  # the signer's heartbeat over TLS is what start() waits for
        with stack.client() as client:
            publishes_and_reads(client, "tls.example/app")
            health = client.get("/_notary_server/health")
            assert (health.status_code, health.json()) == (200, {})
    finally:
        stack.stop_all()


def test_redis_refuses_a_client_without_a_certificate(tls_redis: TlsRedisServer) -> None:
    without_cert = redis.Redis.from_url(
        tls_redis.url, ssl_ca_certs=str(tls_redis.tls.ca_file), socket_timeout=5
    )
    # TLS 1.3 sends the "certificate required" alert after the handshake: the client sees it, or an EOF.
    with pytest.raises(redis.ConnectionError):
        without_cert.ping()
    plain = redis.Redis.from_url(tls_redis.url.replace("rediss://", "redis://"), socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        plain.ping()
    with_cert = redis.Redis.from_url(tls_redis.url, **tls_redis.tls.client_options())
    assert with_cert.ping()
