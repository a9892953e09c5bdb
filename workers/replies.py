"""Answers of tasks whose caller waits for them without a job row (api/task_calls.py).

An answer is stored under ``notary:reply:<call id>`` for a while (so a waiter that missed the message still
reads it) and published on the channel of the same name. Answers go through Redis as they are: never a secret.
"""

from __future__ import annotations

import json
from typing import Any

import redis

# The tasks that answer this way, named here so the API need not import their modules to call them.
LOOKUP_ROLES = "keys.lookup_roles"  # workers/key_tasks.py

REPLY_PREFIX = "notary:reply:"
REPLY_TTL_SECONDS = 120


def reply_channel(call_id: str) -> str:
    return REPLY_PREFIX + call_id


def send_reply(client: redis.Redis, call_id: str, answer: dict[str, Any]) -> None:
    data = json.dumps(answer, separators=(",", ":"))
    with client.pipeline(transaction=False) as pipe:
        pipe.set(reply_channel(call_id), data, ex=REPLY_TTL_SECONDS)
        pipe.publish(reply_channel(call_id), data)
        pipe.execute()
