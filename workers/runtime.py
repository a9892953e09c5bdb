"""Per-process resources (settings, database, Redis), created lazily after fork and never at import."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import redis

from models.db import Database, sqlalchemy_url
from notary.settings import Settings, load_settings

CONFIG_ENV = "NOTARY_CONFIG_FILE"
# Every Redis client of ours fails fast rather than hanging a request or a task on a broker that is gone.
REDIS_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5, "socket_connect_timeout": 5}


def redis_url_from_broker(broker_url: str) -> str:
    """kombu spells a unix socket ``redis+socket:///path``; redis-py wants ``unix:///path``."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://")
    if broker_url.startswith("socket://"):
        return "unix://" + broker_url.removeprefix("socket://")
    return broker_url


def broker_tls(settings: Settings) -> dict[str, Any] | None:
    """TLS of a ``rediss://`` broker, in the spelling both kombu (``broker_use_ssl``) and redis-py take:
    Redis's certificate is always verified, and ours is presented when configured."""
    if not settings.broker_url.startswith("rediss://"):
        return None
    options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    for option, key in (
        ("ssl_ca_certs", "broker.tls_ca_file"),
        ("ssl_certfile", "broker.tls_cert_file"),
        ("ssl_keyfile", "broker.tls_key_file"),
    ):
        path = settings.path(key)
        if path is not None:
            options[option] = str(path)
    return options


def redis_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of every redis-py client of ours (sync or asyncio) on the broker's Redis."""
    return {**REDIS_TIMEOUTS, **(broker_tls(settings) or {})}


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def database(self) -> Database:
        return Database(sqlalchemy_url(self.settings.db_url, self.settings["storage.backend"]))

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            redis_url_from_broker(self.settings.broker_url), **redis_options(self.settings)
        )

    def close(self) -> None:
        if "database" in self.__dict__:
            self.database.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


_current: Runtime | None = None


def settings_from_environment() -> Settings:
    """The only place the worker side reads the environment."""
    config_file = os.environ.get(CONFIG_ENV)
    return load_settings(Path(config_file) if config_file else None, os.environ)


def install(settings: Settings) -> Runtime:
    global _current
    if _current is not None:
        _current.close()
    _current = Runtime(settings)
    return _current


def current() -> Runtime:
    global _current
    if _current is None:
        _current = Runtime(settings_from_environment())
    return _current


def forget_after_fork() -> None:
    """Connections inherited from the parent must not be shared with it: drop them without closing."""
    global _current
    if _current is not None:
        _current = Runtime(_current.settings)
