"""The compromise model, checked on running processes: the signer's key-encryption key is in the signer's
environment and nowhere else: not in any API process (gunicorn master and workers), worker or beat, not on
their command lines and not in the shared config file. (That they refuse to start with one is
``tests/api/test_startup_config.py``.)"""

from __future__ import annotations

from pathlib import Path

from tests.support.processes import NotaryStack, wait_until

KEKS_VARIABLE = b"NOTARY_SERVER_SIGNER_KEKS"


def process_group(pgid: int) -> list[int]:
    """Every live process of a process group (each of our processes leads its own)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # after "pid (comm)": state, ppid, pgrp
            members.append(int(stat.parent.name))
    return members


def exposed(pid: int) -> bytes:
    """What a process was started with: its environment and its command line."""
    return Path(f"/proc/{pid}/environ").read_bytes() + Path(f"/proc/{pid}/cmdline").read_bytes()


def test_only_the_signer_process_holds_the_kek(running_stack: NotaryStack) -> None:
    stack = running_stack
    stack.start("beat")
    secret = stack.kek.split(":", 1)[1].encode()

    def api_processes() -> list[int] | None:
        members = process_group(stack.processes["web"].pid)
        return members if len(members) >= 3 else None  # gunicorn's master and its 2 uvicorn workers

    api = wait_until(api_processes, 30, what="the API's worker processes")

    for name in ("web", "worker", "beat"):
        members = api if name == "web" else process_group(stack.processes[name].pid)
        assert members, f"no {name} process found"
        for pid in members:
            seen = exposed(pid)
            # Booleans first, so that a failure does not print a whole environment.
            holds_kek, names_kek = secret in seen, KEKS_VARIABLE in seen
            assert not holds_kek, f"the KEK is in {name} process {pid}"
            assert not names_kek, f"{name} process {pid} has a KEK variable"
    assert secret not in stack.config_path.read_bytes()

    signer = process_group(stack.processes["signer"].pid)
    assert any(secret in exposed(pid) for pid in signer), "the check must see the KEK where it is"
