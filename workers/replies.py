"""Answers of tasks whose caller waits for them without a job row (api/task_calls.py).

An answer is stored under ``notary:reply:<call id>`` for a while (so a waiter that missed the message still
reads it) and published on the channel of the same name. Answers go through Redis as they are, so they hold
no secret; and since Redis is not trusted to vouch for them, each carries an HMAC under a key derived from
``keys.keks``, which only the API and the workers hold. The HMAC covers the call id, the QUESTION (the task
name and its arguments, as the worker received them) and the answer: a Redis writer who queues its own
question under a waiting call's id (another instance's tuple) gets a genuine answer to the wrong question,
which the waiter refuses.

Such a task is sent the id of a batch of calls, each ``[call_id, *args]``, stored under
``notary:calls:<batch id>`` until the worker takes them: task arguments stay ids.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from notary.sealing import derived_mac_keys

# The tasks that answer this way, named here so the API need not import their modules to call them.
LOOKUP_ROLES = "keys.lookup_roles_batch"  # workers/key_tasks.py

REPLY_PREFIX = "notary:reply:"
REPLY_TTL_SECONDS = 120
CALLS_PREFIX = "notary:calls:"
MAX_CALLS_PER_MESSAGE = 100
MAC_PURPOSE = "notary task reply"


def reply_channel(call_id: str) -> str:
    return REPLY_PREFIX + call_id


def calls_key(batch_id: str) -> str:
    return CALLS_PREFIX + batch_id


def take_calls(client: redis.Redis, batch_id: str) -> list[Any]:
    """The calls of a batch, once: a redelivered message finds none (nor does one whose calls expired)."""
    stored = client.getdel(calls_key(batch_id))
    calls = [] if stored is None else json.loads(stored)
    return calls if isinstance(calls, list) else []


def reply_mac_keys(keks: Sequence[tuple[str, bytes]]) -> tuple[bytes, ...]:
    return derived_mac_keys(keks, MAC_PURPOSE)


def _mac(key: bytes, call_id: str, question: Sequence[str], answer: str) -> str:
    signed = json.dumps([call_id, list(question), answer], separators=(",", ":"))
    return hmac.new(key, signed.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Reply:
    call_id: str
    question: Sequence[str]  # the task's name and the call's arguments after its id, as received
    answer: dict[str, Any]


def send_replies(client: redis.Redis, replies: Sequence[Reply], mac_key: bytes) -> None:
    """Store and announce each answer, in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for reply in replies:
            text = json.dumps(reply.answer, separators=(",", ":"))
            mac = _mac(mac_key, reply.call_id, reply.question, text)
            data = json.dumps({"answer": text, "mac": mac}, separators=(",", ":"))
            pipe.set(reply_channel(reply.call_id), data, ex=REPLY_TTL_SECONDS)
            pipe.publish(reply_channel(reply.call_id), data)
        pipe.execute()


def open_reply(
    call_id: str, question: Sequence[str], data: bytes | str, mac_keys: Sequence[bytes]
) -> dict[str, Any] | None:
    """The answer to ``question`` asked as ``call_id`` if one of ``mac_keys`` authenticates it, else None."""
    try:
        envelope = json.loads(data)
        text, presented = envelope["answer"], envelope["mac"]
        if not isinstance(text, str) or not isinstance(presented, str):
            return None
        authentic = False
        for key in mac_keys:  # no early exit: every key costs the same
            authentic |= hmac.compare_digest(_mac(key, call_id, question, text), presented)
        answer = json.loads(text) if authentic else None
    except (ValueError, KeyError, TypeError):
        return None
    return answer if isinstance(answer, dict) else None
