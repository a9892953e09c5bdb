"""Workers obey ``logging.level`` like the API does: Celery's own per-task lines included. Readiness is a
heartbeat in Redis, not a log line, so it holds at any level."""

from __future__ import annotations

import socket

import pytest

from tests.support.processes import NotaryStack
from workers.heartbeat import worker_heartbeat_key

KEY_PATH = "/v2/example.com/logs/_trust/tuf/timestamp.key"


@pytest.mark.parametrize(("level", "per_task_lines"), [("warning", False), ("info", True)])
def test_celery_lines_follow_the_configured_level(
    stack: NotaryStack, level: str, per_task_lines: bool
) -> None:
    stack.write_config(logging={"level": level})
    stack.start("web")
    worker = stack.start("worker")
    signer = stack.start("signer")
    with stack.client() as client:
        assert client.get(KEY_PATH).status_code == 200  # a task for the signer
    signer_log = signer.log_path.read_text()
    assert ("Task signer.get_key[" in signer_log) is per_task_lines, signer_log  # "...[<id>] received"
    assert ("ready." in worker.log_path.read_text()) is per_task_lines


def test_a_workers_heartbeat_lasts_as_long_as_it_consumes(stack: NotaryStack) -> None:
    stack.write_config(logging={"level": "error"})
    worker = stack.start("worker")  # returns once the heartbeat is there
    key = worker_heartbeat_key(socket.gethostname(), worker.pid)
    worker.stop()
    with stack.redis() as client:
        assert not client.exists(key), "deleted as the worker shut down, not left to expire"
