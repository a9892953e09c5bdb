"""The real Go ``notary`` client (Debian's 0.7.0, ``/usr/bin/notary``) driven against a ``NotaryStack``.

Each ``GoNotary`` is one client: its own trust dir (keys + cached metadata) and its own ``HOME``, so nothing
of the user's ``~/.notary`` leaks in. Passphrases come from ``NOTARY_*_PASSPHRASE``. A failed command fails
the test with the client's output and the tail of every server process log.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .fixtures import INSTALL_HINT, in_ci
from .processes import NotaryStack

NOTARY_BIN = Path("/usr/bin/notary")
COMMAND_TIMEOUT = 60.0

PASSPHRASES = {
    "NOTARY_ROOT_PASSPHRASE": "rootpw",
    "NOTARY_TARGETS_PASSPHRASE": "targetspw",
    "NOTARY_SNAPSHOT_PASSPHRASE": "snapshotpw",
    "NOTARY_DELEGATION_PASSPHRASE": "delegpw",
}


def require_go_client(*, openssl: bool = False) -> None:
    """Skip the calling test module when the Go client (or openssl, if it needs it) is missing; with
    ``CI=true`` fail instead, since CI must run these tests."""
    missing = [] if NOTARY_BIN.exists() else [f"the Go notary client ({NOTARY_BIN})"]
    if openssl and shutil.which("openssl") is None:
        missing.append("openssl")
    if not missing:
        return
    why = f"missing {' and '.join(missing)}; {INSTALL_HINT}"
    if in_ci():
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)


_LIST_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<digest>[0-9a-f]{64})\s+(?P<size>\d+)\s+(?P<role>\S+)\s*$")


@dataclass(frozen=True)
class Target:
    digest: str
    size: int
    role: str


def file_target(path: Path, role: str = "targets") -> Target:
    """What ``notary list`` should show for ``path`` published in ``role``."""
    data = path.read_bytes()
    return Target(hashlib.sha256(data).hexdigest(), len(data), role)


def parse_list(stdout: str) -> dict[str, Target]:
    """The rows of ``notary list``: NAME, DIGEST, SIZE (BYTES), ROLE."""
    if "No targets present in this repository." in stdout:
        return {}
    rows: dict[str, Target] = {}
    for line in stdout.splitlines():
        match = _LIST_ROW.match(line.strip())
        if match:
            rows[match["name"]] = Target(match["digest"], int(match["size"]), match["role"])
    if not rows:
        raise AssertionError(f"cannot read `notary list` output:\n{stdout}")
    return rows


def server_logs(stack: NotaryStack) -> str:
    parts = []
    for name, process in stack.processes.items():
        parts.append(f"----- {name} log (tail) -----\n{process.log()}")
    return "\n".join(parts) or "(no server process started)"


class GoNotary:
    def __init__(self, stack: NotaryStack, home: Path) -> None:
        self.stack = stack
        self.home = home
        self.trust_dir = home / "trust"
        self.trust_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARY_")}
        env.update(PASSPHRASES, HOME=str(home))
        self.env = env

    def copy(self, home: Path) -> GoNotary:
        """Another client starting from a snapshot of this client's trust dir (keys and cached metadata)."""
        shutil.copytree(self.trust_dir, home / "trust")
        return GoNotary(self.stack, home)

    def run(
        self, *args: str, stdin: str | None = None, expect: int = 0, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``notary -D -s <server> -d <trust dir> ARGS``; fail the test unless it exits with ``expect``.

        ``-D`` sends debug logs (the server's error answers among them) to stderr only; stdout is unchanged.
        """
        argv = [str(NOTARY_BIN), "-D", "-s", self.stack.base_url, "-d", str(self.trust_dir), *args]
        shown = "notary " + " ".join(args)
        try:
            result = subprocess.run(
                argv,
                env=self.env,
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"`{shown}` timed out after {timeout}s\n"
                f"stdout:\n{_text(exc.stdout)}\nstderr (tail):\n{_tail(_text(exc.stderr))}\n"
                f"{server_logs(self.stack)}",
                pytrace=False,
            )
        if result.returncode != expect:
            pytest.fail(
                f"`{shown}` exited {result.returncode}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr (tail):\n{_tail(result.stderr)}\n"
                f"{server_logs(self.stack)}",
                pytrace=False,
            )
        return result

    def list(self, gun: str) -> dict[str, Target]:
        return parse_list(self.run("list", gun).stdout)

    def list_fails(self, gun: str) -> str:
        """``notary list`` of a repository the server has no trust data for: exit 1 with that message."""
        result = self.run("list", gun, expect=1)
        if f"does not have trust data for {gun}" not in result.stdout:
            pytest.fail(
                f"`notary list {gun}` failed for another reason:\nstdout:\n{result.stdout}\n"
                f"stderr (tail):\n{_tail(result.stderr)}\n{server_logs(self.stack)}",
                pytrace=False,
            )
        return result.stdout


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])
