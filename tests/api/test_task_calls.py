"""Task calls: an answer counts only when its HMAC checks out (whoever can write to Redis cannot answer a
roles lookup, and so hand an instance any roles), and calls made while a message is being sent share the next
one. Real Redis; the test plays the worker."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from celery import Celery

from api.task_calls import TaskCalls
from tests.support.servers import RedisServer
from workers.replies import LOOKUP_ROLES, Reply, calls_key, reply_channel, reply_mac_keys, send_replies

KEKS = (("k2", b"\x02" * 32), ("k1", b"\x01" * 32))
QUESTION = [LOOKUP_ROLES, "a", "b", "c", "d"]  # what run_call asks


def send_reply(client: redis.Redis, call_id: str, question: list[str], answer: Any, mac_key: bytes) -> None:
    send_replies(client, [Reply(call_id, question, answer)], mac_key)


def queued_calls(client: redis.Redis) -> list[list[str]]:
    """The calls of the next task message the API queued (its one argument is their batch's id)."""
    message = json.loads(client.brpop(["default"], timeout=10)[1])  # type: ignore[index]  # FIFO, as kombu
    [batch_id], _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    calls: list[list[str]] = json.loads(client.get(calls_key(batch_id)))  # type: ignore[arg-type]
    return calls


def queued_call_id(client: redis.Redis) -> str:
    [[call_id, *_args]] = queued_calls(client)
    return call_id


def celery_client(url: str) -> Celery:
    celery = Celery("task-calls-test", broker=url)
    celery.config_from_object("celeryconfig")
    celery.conf.broker_url = url
    return celery


def run_call(server: RedisServer, answer_with: Any) -> dict[str, Any] | None:
    celery = celery_client(server.url)
    sync = redis.Redis.from_url(server.url)

    async def scenario() -> dict[str, Any] | None:
        calls = TaskCalls(celery, aioredis.Redis.from_url(server.url), reply_mac_keys(KEKS))
        try:
            pending = asyncio.create_task(calls.call(LOOKUP_ROLES, ["a", "b", "c", "d"], 5))
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
        other_question = [LOOKUP_ROLES, "a", "b", "c", "i-privileged"]
        send_reply(client, call_id, other_question, {"roles": ["notary:verify"]}, reply_mac_keys(KEKS)[0])
        send_reply(client, call_id, QUESTION, {"roles": ["web", "genuine"]}, reply_mac_keys(KEKS)[0])

    assert run_call(redis_server, forge_then_answer) == {"roles": ["web", "genuine"]}


def test_no_answer_is_none(redis_server: RedisServer) -> None:
    celery = celery_client(redis_server.url)

    async def scenario() -> dict[str, Any] | None:
        calls = TaskCalls(celery, aioredis.Redis.from_url(redis_server.url), reply_mac_keys(KEKS))
        try:
            return await calls.call(LOOKUP_ROLES, ["a", "b", "c", "d"], 1.5)
        finally:
            await calls.close()

    assert asyncio.run(scenario()) is None
    redis.Redis.from_url(redis_server.url).delete("default")  # the unanswered message, for no worker to run


def test_calls_made_while_a_message_is_being_sent_share_the_next_one(tmp_path: Path) -> None:
    server = RedisServer.start(tmp_path / "redis")
    celery = celery_client(server.url)
    sync = redis.Redis.from_url(server.url)
    instances = [f"i-{n}" for n in range(6)]

    async def scenario() -> list[dict[str, Any] | None]:
        calls = TaskCalls(celery, aioredis.Redis.from_url(server.url), reply_mac_keys(KEKS))
        try:
            assert await calls._listener.subscribed(5)
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGSTOP)  # the first message cannot get through...
            try:
                first = asyncio.create_task(calls.call(LOOKUP_ROLES, ["a", "b", "c", "i-first"], 30))
                while not calls._senders or calls._unsent[LOOKUP_ROLES]:
                    await asyncio.sleep(0.01)
                rest = [  # ...while these come
                    asyncio.create_task(calls.call(LOOKUP_ROLES, ["a", "b", "c", instance], 30))
                    for instance in instances
                ]
                while len(calls._unsent[LOOKUP_ROLES]) < len(instances):
                    await asyncio.sleep(0.01)
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            messages = [await asyncio.to_thread(queued_calls, sync) for _ in range(2)]
            assert [[call[1:] for call in message] for message in messages] == [
                [["a", "b", "c", "i-first"]],
                [["a", "b", "c", instance] for instance in instances],
            ]
            key = reply_mac_keys(KEKS)[0]
            for call_id, *args in reversed(messages[0] + messages[1]):  # each answered as asked, any order
                await asyncio.to_thread(
                    send_reply, sync, call_id, [LOOKUP_ROLES, *args], {"roles": [args[-1]]}, key
                )
            return await asyncio.gather(first, *rest)
        finally:
            await calls.close()

    try:
        answers = asyncio.run(scenario())
    finally:
        sync.close()
        server.stop()
    assert answers == [{"roles": [instance]} for instance in ["i-first", *instances]]


def test_a_call_nobody_waits_for_any_more_is_not_sent(tmp_path: Path) -> None:
    server = RedisServer.start(tmp_path / "redis")
    celery = celery_client(server.url)
    sync = redis.Redis.from_url(server.url)

    async def scenario() -> list[dict[str, Any] | None]:
        calls = TaskCalls(celery, aioredis.Redis.from_url(server.url), reply_mac_keys(KEKS))
        try:
            assert await calls._listener.subscribed(5)
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                first = asyncio.create_task(calls.call(LOOKUP_ROLES, ["a", "b", "c", "i-long"], 30))
                while not calls._senders or calls._unsent[LOOKUP_ROLES]:
                    await asyncio.sleep(0.01)
                # Queued behind the stuck message, and given up on while still queued: None on time...
                short = await calls.call(LOOKUP_ROLES, ["a", "b", "c", "i-short"], 0.5)
                # ...and so is the call of a request that went away (its client hung up).
                gone = asyncio.create_task(calls.call(LOOKUP_ROLES, ["a", "b", "c", "i-gone"], 30))
                while len(calls._unsent[LOOKUP_ROLES]) < 2:
                    await asyncio.sleep(0.01)
                gone.cancel()
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            [[call_id, *args]] = await asyncio.to_thread(queued_calls, sync)
            await asyncio.to_thread(
                send_reply, sync, call_id, [LOOKUP_ROLES, *args], {"roles": ["long"]}, reply_mac_keys(KEKS)[0]
            )
            return [await first, short]
        finally:
            await calls.close()

    try:
        answers = asyncio.run(scenario())
        assert sync.llen("default") == 0, "the calls given up on went in no message"
    finally:
        sync.close()
        server.stop()
    assert answers == [{"roles": ["long"]}, None]


def test_a_message_that_cannot_be_sent_fails_every_call_in_it() -> None:
    celery = celery_client("redis://127.0.0.1:9/0")  # nothing listens there
    celery.conf.broker_connection_max_retries = 0
    celery.conf.broker_transport_options = {"max_retries": 0}

    async def scenario() -> list[Any]:
        calls = TaskCalls(celery, aioredis.Redis.from_url("redis://127.0.0.1:9/0"), reply_mac_keys(KEKS))
        try:
            waits = [calls.call(LOOKUP_ROLES, ["a", "b", "c", f"i-{n}"], 3) for n in range(3)]
            return await asyncio.gather(*waits, return_exceptions=True)
        finally:
            await calls.close()

    outcomes = asyncio.run(scenario())
    assert len(outcomes) == 3
    assert all(isinstance(outcome, Exception) for outcome in outcomes), outcomes
