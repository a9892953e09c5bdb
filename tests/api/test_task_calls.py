"""A task call's answer counts only when its HMAC checks out: whoever can write to Redis cannot answer a roles
lookup (and so hand an instance any roles). Real Redis; the test plays the worker."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import redis
import redis.asyncio as aioredis
from celery import Celery

from api.task_calls import TaskCalls
from tests.support.servers import RedisServer
from workers.replies import reply_channel, reply_mac_keys, send_reply

KEKS = (("k2", b"\x02" * 32), ("k1", b"\x01" * 32))
QUESTION = ["keys.lookup_roles", "a", "b", "c", "d"]  # what run_call asks


def queued_call_id(client: redis.Redis) -> str:
    """The call id of the task message the API queued (its first argument)."""
    message = json.loads(client.blpop(["default"], timeout=10)[1])  # type: ignore[index]
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    call_id: str = args[0]
    return call_id


def run_call(server: RedisServer, answer_with: Any) -> dict[str, Any] | None:
    celery = Celery("task-calls-test", broker=server.url)
    celery.config_from_object("celeryconfig")
    celery.conf.broker_url = server.url
    sync = redis.Redis.from_url(server.url)

    async def scenario() -> dict[str, Any] | None:
        calls = TaskCalls(celery, aioredis.Redis.from_url(server.url), reply_mac_keys(KEKS))
        try:
            pending = asyncio.create_task(calls.call("keys.lookup_roles", ["a", "b", "c", "d"], 5))
            call_id = await asyncio.to_thread(queued_call_id, sync)
            await asyncio.to_thread(answer_with, sync, call_id)
            return await pending
        finally:
            await calls.close()

    try:
        return asyncio.run(scenario())
    finally:
        sync.close()


def test_a_genuine_answer_is_taken_even_from_a_rotated_out_kek(redis_server: RedisServer) -> None:
    def answer(client: redis.Redis, call_id: str) -> None:
        send_reply(client, call_id, QUESTION, {"roles": ["web"]}, reply_mac_keys(KEKS[1:])[0])

    assert run_call(redis_server, answer) == {"roles": ["web"]}


def test_forged_answers_are_ignored(redis_server: RedisServer) -> None:
    def forge_then_answer(client: redis.Redis, call_id: str) -> None:
        forged = json.dumps({"roles": ["notary:key-federation"]})
        channel = reply_channel(call_id)
        client.publish(channel, json.dumps({"answer": forged, "mac": "0" * 64}))
        client.publish(channel, json.dumps({"roles": ["notary:verify"]}))
        send_reply(
            client, "someone-else", QUESTION, {"roles": ["admin"]}, reply_mac_keys(KEKS)[0]
        )  # another call
        client.publish(channel, client.get(reply_channel("someone-else")))  # ...replayed onto this one
        send_reply(client, call_id, QUESTION, {"roles": ["web"]}, b"\x00" * 32)  # a key we never derived
        # A genuine answer to another question under this call's id: what a worker would send back for a
        # lookup that someone able to write to Redis queued with this call id and another instance's tuple.
        other_question = ["keys.lookup_roles", "a", "b", "c", "i-privileged"]
        send_reply(client, call_id, other_question, {"roles": ["notary:verify"]}, reply_mac_keys(KEKS)[0])
        send_reply(client, call_id, QUESTION, {"roles": ["web", "genuine"]}, reply_mac_keys(KEKS)[0])

    assert run_call(redis_server, forge_then_answer) == {"roles": ["web", "genuine"]}


def test_no_answer_is_none(redis_server: RedisServer) -> None:
    celery = Celery("task-calls-test", broker=redis_server.url)
    celery.config_from_object("celeryconfig")
    celery.conf.broker_url = redis_server.url

    async def scenario() -> dict[str, Any] | None:
        calls = TaskCalls(celery, aioredis.Redis.from_url(redis_server.url), reply_mac_keys(KEKS))
        try:
            return await calls.call("keys.lookup_roles", ["a", "b", "c", "d"], 1.5)
        finally:
            await calls.close()

    assert asyncio.run(scenario()) is None
    redis.Redis.from_url(redis_server.url).delete("default")  # the unanswered message, for no worker to run
