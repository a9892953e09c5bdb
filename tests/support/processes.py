"""Our own processes, started for real: ``notary-server`` (gunicorn + uvicorn), ``notary-worker``,
``notary-signer`` and ``notary-beat``, each in its own process group, from a config file the test writes.

A ``NotaryStack`` is one deployment: a data dir, a config file, a Redis database and a SQL database. Tests
start the processes they need, kill or restart them, and talk HTTP to the API.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from celery import Celery

from workers.heartbeat import worker_heartbeat_key

from .servers import _parent_death_preexec, find_free_port, log_tail

BIN = Path(sys.executable).parent
READY_TIMEOUT = 60.0


def new_kek() -> str:
    return "k1:" + base64.b64encode(os.urandom(32)).decode()


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until ``predicate`` returns something truthy; bounded, raising with ``what`` on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_parent_death_preexec(),
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 20.0) -> None:
        if not self.running():
            return
        self.signal_group(signal.SIGTERM)
        try:
            assert self.popen is not None
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        # Whatever the leader left behind in its group goes too.
        self.signal_group(signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole process group: no clean shutdown, no acks, no goodbyes."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)

    def log(self) -> str:
        return log_tail(self.log_path, 80)


@dataclass
class NotaryStack:
    root: Path
    redis_url: str
    db_url: str
    config: dict[str, Any] = field(default_factory=dict)
    kek: str = field(default_factory=new_kek)
    processes: dict[str, Process] = field(default_factory=dict)
    # For a stack serving HTTPS: "https", and the httpx options to reach it (a CA to trust, a client cert).
    scheme: str = "http"
    client_options: dict[str, Any] = field(default_factory=dict)
    # redis-py / kombu TLS options for the test's own clients of a rediss:// broker
    redis_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = find_free_port()
        self.write_config()

    @property
    def config_path(self) -> Path:
        return self.root / "notary.json"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def write_config(self, **sections: Any) -> None:
        document: dict[str, Any] = {
            "server": {"http_addr": f"127.0.0.1:{self.port}", "data_dir": "data", "workers": 2},
            "storage": {"backend": _backend(self.db_url), "db_url": self.db_url},
            "broker": {"url": self.redis_url},
            "logging": {"level": "info"},
        }
        for section, values in {**self.config, **sections}.items():
            document.setdefault(section, {}).update(values)
        self.config_path.write_text(json.dumps(document, indent=2))

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTARY_", "PROMETHEUS_"))}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env["PROMETHEUS_MULTIPROC_DIR"] = str(self.root / "metrics")
        (self.root / "metrics").mkdir(exist_ok=True)
        env.update(extra or {})
        return env

    def start(self, name: str, *extra_args: str, env: dict[str, str] | None = None) -> Process:
        commands = {
            "web": ["notary-server"],
            "worker": ["notary-worker", "-concurrency", "2"],
            "signer": ["notary-signer"],
            "beat": ["notary-beat"],
        }
        process_env = self.env(env)
        if name == "signer":
            process_env["NOTARY_SERVER_SIGNER_KEKS"] = self.kek
        argv = [
            str(BIN / commands[name][0]),
            *commands[name][1:],
            "-config",
            str(self.config_path),
            *extra_args,
        ]
        process = self.track(Process(name, argv, process_env, self.root / f"{name}.log").start())
        if name == "web":
            self.wait_http_ready(process)
        if name == "signer":
            wait_until(self.signer_alive, READY_TIMEOUT, what="the signer heartbeat")
        if name == "worker":
            wait_until(lambda: self.worker_alive(process), READY_TIMEOUT, what="the worker heartbeat")
        return process

    def track(self, process: Process) -> Process:
        """Stop ``process`` with the stack; every process a test starts must be tracked."""
        self.processes[process.name] = process
        return process

    def start_all(self) -> None:
        for name in ("web", "worker", "signer"):
            self.start(name)

    def wait_http_ready(self, process: Process) -> None:
        def ready() -> bool:
            if not process.running():
                raise RuntimeError(f"{process.name} exited early:\n{process.log()}")
            try:
                # 401: under token auth the ping needs the catalog scope, and answering it is being ready.
                return httpx.get(self.base_url + "/v2/", timeout=2, **self.client_options).status_code in (
                    200,
                    401,
                )
            except httpx.HTTPError:
                return False

        wait_until(ready, READY_TIMEOUT, interval=0.1, what="the API")

    def celery(self) -> Celery:
        """A Celery client of this stack's broker, separate from the global app (whose pool is per broker)."""
        from workers.app import transport_options

        app = Celery("notary-test-client")
        app.config_from_object("celeryconfig")
        app.conf.broker_url = self.redis_url
        app.conf.broker_transport_options = transport_options(30)
        app.conf.broker_use_ssl = self.redis_options or None
        return app

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, **self.redis_options)

    def worker_alive(self, process: Process) -> bool:
        if not process.running():
            raise RuntimeError(f"{process.name} exited early:\n{process.log()}")
        with self.redis() as client:
            return bool(client.exists(worker_heartbeat_key(socket.gethostname(), process.pid)))

    def signer_alive(self) -> bool:
        with self.redis() as client:
            return bool(client.exists("notary:signer:heartbeat"))

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.stop()

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60, **{**self.client_options, **options})


def _backend(db_url: str) -> str:
    if db_url.startswith("sqlite"):
        return "sqlite"
    if db_url.startswith("mysql"):
        return "mysql"
    return "postgres"
