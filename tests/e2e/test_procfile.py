"""The README's run command (scripts/run: honcho and the Procfile) brings up the whole system, Ctrl-C stops
everything with no orphans, and keys survive a restart of every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import wait_until
from tests.support.servers import find_free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class System:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTARY_", "PROMETHEUS_"))}
        self.env.update(NOTARY_DATA_DIR=str(data_dir), NOTARY_SERVER_SERVER_HTTP_ADDR=f"127.0.0.1:{port}")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.data_dir.parent / "honcho.log").open("ab")
        self.process = subprocess.Popen(
            [str(REPO / "scripts" / "run")],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self.key_answers, 120, interval=0.25, what="the whole system")

    def key_answers(self) -> bool:
        try:
            return (
                httpx.get(self.base_url + "/v2/e2e/app/_trust/tuf/timestamp.key", timeout=5).status_code
                == 200
            )
        except httpx.HTTPError:
            return False

    def ctrl_c(self) -> set[int]:
        assert self.process is not None
        processes = descendants(self.process.pid) | {self.process.pid}
        os.killpg(self.process.pid, signal.SIGINT)  # what a terminal sends to the foreground group
        self.process.wait(60)
        return processes

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    data_dir = tmp_path / "data"
    running = System(data_dir, find_free_port())
    yield running
    running.kill()


def test_run_command_starts_everything_and_ctrl_c_leaves_nothing(system: System) -> None:
    system.start()
    key = httpx.get(system.base_url + "/v2/e2e/app/_trust/tuf/timestamp.key").content
    assert httpx.get(system.base_url + "/_notary_server/health").json() == {}
    assert json.loads(key)["keytype"] == "ecdsa"
    redis_socket = system.data_dir / "redis.sock"
    assert redis_socket.is_socket(), "the embedded Redis listens on a unix socket in the data directory"
    assert oct((system.data_dir / "signer.keks").stat().st_mode & 0o777) == "0o600"

    started = system.ctrl_c()
    assert len(started) >= 6, "honcho, redis, web (+workers), worker (+pool), signer, beat"
    wait_until(lambda: not any(alive(pid) for pid in started), 30, what="every process to exit")

    system.start()
    assert httpx.get(system.base_url + "/v2/e2e/app/_trust/tuf/timestamp.key").content == key
    system.ctrl_c()
