"""The worker's side of synchronous issuance: one roles-lookup message answers every call of its batch, each
bound to its own question. Real worker, real Redis; the test plays the API."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.processes import NotaryStack, new_kek, wait_until
from workers.replies import LOOKUP_ROLES, calls_key, open_reply, reply_channel, reply_mac_keys


def mac_keys_of(kek: str) -> tuple[bytes, ...]:
    kek_id, material = kek.split(":", 1)
    return reply_mac_keys([(kek_id, base64.b64decode(material))])


def send_batch(stack: NotaryStack, batch_id: str, calls: list[Any]) -> None:
    with stack.redis() as client:
        client.set(calls_key(batch_id), json.dumps(calls), ex=60)
    stack.celery().send_task(LOOKUP_ROLES, args=[batch_id])


def stored_answer(stack: NotaryStack, call_id: str, instance: str, mac_keys: tuple[bytes, ...]) -> Any:
    with stack.redis() as client:
        stored = client.get(reply_channel(call_id))
    return stored and open_reply(call_id, [LOOKUP_ROLES, "a", "r", "ami", instance], stored, mac_keys)


def test_one_message_answers_each_of_its_calls_and_skips_malformed_ones(stack: NotaryStack) -> None:
    kek = new_kek()
    stack.write_config(
        keys={"keks": [kek]},
        politician={
            "bindings": [
                {"match": {"instance": "i-1"}, "roles": ["one"]},
                {"match": {"instance": "i-2"}, "roles": ["two"]},
            ]
        },
    )
    stack.start("worker")
    mac_keys = mac_keys_of(kek)
    calls: list[Any] = [
        ["call-1", "a", "r", "ami", "i-1"],
        ["call-bad", "a", "r", "ami"],  # one part short
        "call-bad-2",
        ["call-2", "a", "r", "ami", "i-2"],
        ["call-3", "a", "r", "ami", "i-3"],
    ]
    send_batch(stack, "batch-1", calls)

    def answer(call_id: str, instance: str) -> Any:
        return stored_answer(stack, call_id, instance, mac_keys)

    assert wait_until(lambda: answer("call-3", "i-3"), what="the batch's answers") == {"roles": []}
    assert answer("call-1", "i-1") == {"roles": ["one"]}
    assert answer("call-2", "i-2") == {"roles": ["two"]}
    assert answer("call-2", "i-1") is None  # bound to its own question
    with stack.redis() as client:
        assert client.keys(reply_channel("call-bad*")) == []
        assert not client.exists(calls_key("batch-1")), "taken once: a redelivered message finds no calls"


@pytest.fixture
def politician() -> Iterator[tuple[str, threading.Event]]:
    """A Politician on 127.0.0.1 that answers every instance at once except ``i-slow``, which waits for the
    event (so the test, not a clock, decides when it answers)."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            instance = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["instance"]
            if instance == "i-slow":
                release.wait(60)
            body = json.dumps({"roles": [instance]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/roles", release
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_a_slow_politician_answer_holds_up_no_other_call_of_its_batch(
    stack: NotaryStack, politician: tuple[str, threading.Event]
) -> None:
    url, release = politician
    kek = new_kek()
    stack.write_config(
        keys={"keks": [kek]}, politician={"provider": "http", "url": url, "timeout": 60, "retries": 0}
    )
    stack.start("worker")
    mac_keys = mac_keys_of(kek)
    send_batch(
        stack, "batch-2", [["call-slow", "a", "r", "ami", "i-slow"], ["call-fast", "a", "r", "ami", "i-fast"]]
    )
    # Answered while Politician still holds the other lookup of its batch.
    fast = wait_until(lambda: stored_answer(stack, "call-fast", "i-fast", mac_keys), what="the fast answer")
    assert fast == {"roles": ["i-fast"]}
    assert stored_answer(stack, "call-slow", "i-slow", mac_keys) is None
    release.set()
    slow = wait_until(lambda: stored_answer(stack, "call-slow", "i-slow", mac_keys), what="the slow answer")
    assert slow == {"roles": ["i-slow"]}
