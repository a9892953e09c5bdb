"""Answers of tasks whose caller waits for them without a job row (api/task_calls.py).

An answer is stored under ``notary:reply:<call id>`` for a while (so a waiter that missed the message still
reads it) and published on the channel of the same name. Answers go through Redis as they are, so they hold
no secret; and since Redis is not trusted to vouch for them (anyone who can write to it could otherwise hand
an instance any roles), each carries an HMAC under a key derived from ``keys.keks``, which only the API and
the workers hold.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import redis

from notary.sealing import derived_mac_keys

# The tasks that answer this way, named here so the API need not import their modules to call them.
LOOKUP_ROLES = "keys.lookup_roles"  # workers/key_tasks.py

REPLY_PREFIX = "notary:reply:"
REPLY_TTL_SECONDS = 120
MAC_PURPOSE = "notary task reply"


def reply_channel(call_id: str) -> str:
    return REPLY_PREFIX + call_id


def reply_mac_keys(keks: Sequence[tuple[str, bytes]]) -> tuple[bytes, ...]:
    return derived_mac_keys(keks, MAC_PURPOSE)


def _mac(key: bytes, call_id: str, answer: str) -> str:
    return hmac.new(key, f"{call_id}\n{answer}".encode(), hashlib.sha256).hexdigest()


def send_reply(client: redis.Redis, call_id: str, answer: dict[str, Any], mac_key: bytes) -> None:
    text = json.dumps(answer, separators=(",", ":"))
    data = json.dumps({"answer": text, "mac": _mac(mac_key, call_id, text)}, separators=(",", ":"))
    with client.pipeline(transaction=False) as pipe:
        pipe.set(reply_channel(call_id), data, ex=REPLY_TTL_SECONDS)
        pipe.publish(reply_channel(call_id), data)
        pipe.execute()


def open_reply(call_id: str, data: bytes | str, mac_keys: Sequence[bytes]) -> dict[str, Any] | None:
    """The answer to ``call_id`` if one of ``mac_keys`` authenticates it, else None."""
    try:
        envelope = json.loads(data)
        text, presented = envelope["answer"], envelope["mac"]
        if not isinstance(text, str) or not isinstance(presented, str):
            return None
        authentic = False
        for key in mac_keys:  # no early exit: every key costs the same
            authentic |= hmac.compare_digest(_mac(key, call_id, text), presented)
        answer = json.loads(text) if authentic else None
    except (ValueError, KeyError, TypeError):
        return None
    return answer if isinstance(answer, dict) else None
