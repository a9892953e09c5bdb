"""The worker's side of synchronous issuance: one ``keys.lookup_roles`` message answers every call in it, each
bound to its own question. Real worker, real Redis; the test plays the API."""

from __future__ import annotations

import base64
from typing import Any

from tests.support.processes import NotaryStack, new_kek, wait_until
from workers.replies import LOOKUP_ROLES, open_reply, reply_channel, reply_mac_keys


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
    kek_id, material = kek.split(":", 1)
    mac_keys = reply_mac_keys([(kek_id, base64.b64decode(material))])
    calls: list[Any] = [
        ["call-1", "a", "r", "ami", "i-1"],
        ["call-bad", "a", "r", "ami"],  # one part short
        "call-bad-2",
        ["call-2", "a", "r", "ami", "i-2"],
        ["call-3", "a", "r", "ami", "i-3"],
    ]
    stack.celery().send_task(LOOKUP_ROLES, args=[calls])

    with stack.redis() as client:

        def answer(call_id: str, instance: str) -> Any:
            stored = client.get(reply_channel(call_id))
            return stored and open_reply(call_id, [LOOKUP_ROLES, "a", "r", "ami", instance], stored, mac_keys)

        assert wait_until(lambda: answer("call-3", "i-3"), what="the batch's answers") == {"roles": []}
        assert answer("call-1", "i-1") == {"roles": ["one"]}
        assert answer("call-2", "i-2") == {"roles": ["two"]}
        assert answer("call-2", "i-1") is None  # bound to its own question
        assert client.keys(reply_channel("call-bad*")) == []
