"""The Falcon ASGI application: ``create_app(settings, deps)``, and ``get_app()`` for the server, which is the
only place on the API side that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falcon
import falcon.asgi
import redis
import redis.asyncio as aioredis
from celery import Celery

from api import errors, reporting
from api.auth import TokenAuth, token_auth_enabled
from api.job_runner import JobRunner
from api.key_cache import KeyCache
from api.metadata_cache import MetadataCache
from api.middleware import RequestContext
from api.peer_keys import PeerKeys
from api.replay_cache import ReplayCache
from api.resources.access_list import AccessListResource
from api.resources.bulk import BulkPublishResource
from api.resources.federation import ServedKeyResource
from api.resources.health import HealthResource
from api.resources.jobs import JobResource
from api.resources.keys import KeyService
from api.resources.keys import add_routes as add_key_routes
from api.resources.metrics import MetricsResource
from api.resources.notary import NotaryApi
from api.resources.subscriptions import SubscriptionService
from api.resources.subscriptions import add_routes as add_subscription_routes
from api.resources.token import TokenResource
from api.signer_presence import SignerPresence
from api.task_calls import TaskCalls
from api.verification import Verifier
from api.verify_fast_path import VerifyFastPath
from models.db import Database, sqlalchemy_url
from notary.auth.service.token_service import TokenService
from notary.keys.federation import load_login_body
from notary.settings import Settings, load_settings
from workers.app import trigger_dispatch_after_commits
from workers.bulk_tasks import PUBLISH
from workers.replies import reply_mac_keys
from workers.runtime import CONFIG_ENV, redis_options, redis_url_from_broker

SyncRedis = redis.Redis  # the field ``Deps.redis`` would shadow the module in annotations


@dataclass
class Deps:
    database: Database
    redis: aioredis.Redis
    sync_redis: SyncRedis  # for the rare writes that wait in a thread
    celery_app: Celery

    @classmethod
    def from_settings(cls, settings: Settings) -> Deps:
        from workers.app import celery_app, connect

        connect(celery_app, settings)
        redis_url = redis_url_from_broker(settings.broker_url)
        return cls(
            database=Database(sqlalchemy_url(settings.db_url, settings["storage.backend"])),
            redis=aioredis.Redis.from_url(redis_url, **redis_options(settings)),
            sync_redis=redis.Redis.from_url(redis_url, **redis_options(settings)),
            celery_app=celery_app,
        )


def create_app(settings: Settings, deps: Deps) -> VerifyFastPath:
    app = falcon.asgi.App(middleware=[RequestContext()], media_type=falcon.MEDIA_JSON)
    if token_auth_enabled(settings):
        app.add_middleware(TokenAuth.from_settings(settings))
    app.req_options.strip_url_path_trailing_slash = False
    errors.install(app, reporting.make_reporter(settings))
    runner = JobRunner(deps.database, deps.celery_app, deps.redis)
    task_calls = TaskCalls(deps.celery_app, deps.redis, reply_mac_keys(settings["keys.keks"]))
    cache = MetadataCache(deps.redis)

    signer = SignerPresence(deps.redis)
    health = HealthResource(deps.database, deps.redis, signer)
    metrics = MetricsResource(signer)
    app.add_route("/_notary_server/health", health)
    app.add_route("/metrics", metrics)
    app.add_route("/_notary_server/metrics", metrics)
    key_cache = KeyCache(deps.database, settings["keys.keks"], cache)
    peer_keys = PeerKeys(
        settings["keys.peers"], load_login_body(settings), settings["keys.federation.timeout"]
    )
    skew_ms = settings["keys.skew"] * 1000
    verifier = Verifier(
        settings["keys.dc"],
        key_cache,
        peer_keys,
        ReplayCache(deps.redis, skew_ms) if settings["keys.replay_cache"] else None,
        skew_ms,
    )
    keys = KeyService(settings, deps.database, runner, task_calls, key_cache, verifier, deps.sync_redis)
    add_key_routes(app, keys)
    app.add_route("/v1/federation/keys/{identity}", ServedKeyResource(keys))
    app.add_route("/v1/access-list/{instance_id}", AccessListResource(deps.database))
    token_service = TokenService.from_settings(settings)
    if token_service is not None:
        app.add_route("/auth/token", TokenResource(token_service))
    bulk = BulkPublishResource(settings, deps.database, deps.celery_app, signer)
    app.add_route("/v1/bulk/publish", bulk)
    app.add_route("/v1/jobs/{job_id}", JobResource(runner, {"keys.issue": keys}, {PUBLISH: bulk}))
    add_subscription_routes(app, SubscriptionService(settings, deps.database, deps.celery_app))
    trigger_dispatch_after_commits(deps.celery_app)  # repository deletions and key revocations record events
    app.add_sink(
        NotaryApi(settings, deps.database, runner, signer, cache, deps.sync_redis), prefix=r"/v2(?=/|$)"
    )

    async def shutdown(scope: Any, event: Any) -> None:
        await runner.close()
        await task_calls.close()
        await cache.close()
        await peer_keys.close()
        await deps.redis.aclose()
        deps.sync_redis.close()
        deps.database.dispose()

    app.add_middleware(_Lifespan(shutdown))
    return VerifyFastPath(app, keys)


class _Lifespan:
    def __init__(self, on_shutdown: Any) -> None:
        self.on_shutdown = on_shutdown

    async def process_shutdown(self, scope: Any, event: Any) -> None:
        await self.on_shutdown(scope, event)


def get_app() -> VerifyFastPath:
    config_file = os.environ.get(CONFIG_ENV)
    settings = load_settings(Path(config_file) if config_file else None, os.environ)
    return create_app(settings, Deps.from_settings(settings))
