"""``notary-worker``, ``notary-signer`` and ``notary-beat``: validate the configuration, then run Celery.

Each takes ``-config FILE`` (or NOTARY_CONFIG_FILE). A bad configuration stops start-up with one line.
Only ``notary-signer`` reads the key-encryption keys (``-keks-file`` or NOTARY_SERVER_SIGNER_KEKS), so no
other process ever holds them. ``notary-signer -rewrap`` re-seals the stored keys under the first KEK and
exits, for a KEK rotation (see ``workers.key_rewrap``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
from pathlib import Path

from notary import logs
from notary.broker_auth import check_broker_auth
from notary.errors import ConfigError
from notary.settings import Settings, load_settings, require_keks

CONFIG_ENV = "NOTARY_CONFIG_FILE"
KEKS_ENV = "NOTARY_SERVER_SIGNER_KEKS"


def _parse(prog: str, argv: list[str] | None, *, keks_file: bool = False) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("-config", "--config", type=Path, default=os.environ.get(CONFIG_ENV) or None)
    parser.add_argument("-concurrency", "--concurrency", type=int, default=None)
    if keks_file:
        parser.add_argument("-keks-file", "--keks-file", type=Path, help="file holding id:base64key lines")
        parser.add_argument(
            "-rewrap",
            "--rewrap",
            action="store_true",
            help="re-seal all server keys under the first KEK and exit (0 once no key is left under another)",
        )
    return parser.parse_args(argv)


def _load(args: argparse.Namespace, *, signer: bool = False) -> Settings:
    if args.config is not None:
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    settings = load_settings(args.config, os.environ)
    if not signer:
        refuse_signer_keks(settings)
    check_broker_auth(settings)
    prepare_process(settings)
    return settings


def refuse_signer_keks(settings: Settings) -> None:
    """Only notary-signer may hold the key-encryption keys, from whatever source they would come."""
    if settings["signer.keks"]:
        raise ConfigError(
            "signer.keks", settings.source("signer.keks"), "only notary-signer may be given the KEKs"
        )


def prepare_process(settings: Settings) -> None:
    """Logging and the shared metrics folder; must run before prometheus_client is imported."""
    logs.configure(settings["logging.level"])
    metrics_dir = settings.data_dir / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))


def celery_log_level(settings: Settings) -> str:
    """Celery's ``-l``, which sets the level of the root logger and so of every line, ours included."""
    return logging.getLevelName(logs.LEVELS[settings["logging.level"]])


def _heartbeat_while_consuming(key: str) -> None:
    """Refresh the heartbeat ``key`` from the moment Celery consumes until it shuts down."""
    from celery.signals import worker_ready, worker_shutdown

    from workers import heartbeat, runtime

    beating: list[heartbeat.Heartbeat] = []

    @worker_ready.connect(weak=False)
    def _start_heartbeat(**_kwargs: object) -> None:
        beating.append(heartbeat.Heartbeat(runtime.current().redis, key))

    @worker_shutdown.connect(weak=False)
    def _stop_heartbeat(**_kwargs: object) -> None:
        for running in beating:
            running.stop()


def _run_celery(settings: Settings, arguments: list[str]) -> int:
    from workers.app import configure

    app = configure(settings)
    app.start(arguments)
    return 0


def _fail(exc: ConfigError) -> int:
    print(exc, file=sys.stderr)
    return 2


def worker_main(argv: list[str] | None = None) -> int:
    args = _parse("notary-worker", argv)
    try:
        settings = _load(args)
    except ConfigError as exc:
        return _fail(exc)
    from workers.heartbeat import worker_heartbeat_key

    _heartbeat_while_consuming(worker_heartbeat_key(socket.gethostname(), os.getpid()))
    concurrency = str(args.concurrency or 2)
    return _run_celery(
        settings,
        [
            "worker",
            "-Q",
            "default,webhooks",
            "-n",
            "worker@%h",
            "-c",
            concurrency,
            "--without-gossip",
            "--without-mingle",
            "-l",
            celery_log_level(settings),
        ],
    )


def signer_main(argv: list[str] | None = None) -> int:
    args = _parse("notary-signer", argv, keks_file=True)
    if args.keks_file is not None:
        try:
            lines = args.keks_file.read_text().split()
        except OSError as exc:
            return _fail(ConfigError("-keks-file", str(args.keks_file), f"cannot read: {exc.strerror}"))
        os.environ[KEKS_ENV] = ",".join(lines)
    try:
        settings = _load(args, signer=True)
        keks = require_keks(settings)
    except ConfigError as exc:
        return _fail(exc)
    if args.rewrap:
        return _rewrap(settings, keks)
    from workers.heartbeat import HEARTBEAT_KEY

    _heartbeat_while_consuming(HEARTBEAT_KEY)
    concurrency = str(args.concurrency or 1)
    return _run_celery(
        settings,
        [
            "worker",
            "-Q",
            "signer",
            "-n",
            "signer@%h",
            "-c",
            concurrency,
            "--without-gossip",
            "--without-mingle",
            "-l",
            celery_log_level(settings),
        ],
    )


def _rewrap(settings: Settings, keks: tuple[tuple[str, bytes], ...]) -> int:
    """One whole re-wrap pass in the foreground (no worker needed); prints what is left, by KEK id."""
    from workers import key_rewrap, runtime

    database = runtime.install(settings).database
    progress = key_rewrap.rewrap(database, keks)
    left = key_rewrap.report(database, keks, progress.rewrapped)
    print(json.dumps({"rewrapped": progress.rewrapped, "left": left}))
    return 1 if left else 0


def beat_main(argv: list[str] | None = None) -> int:
    args = _parse("notary-beat", argv)
    try:
        settings = _load(args)
    except ConfigError as exc:
        return _fail(exc)
    schedule = settings.data_dir / "celerybeat-schedule"
    return _run_celery(settings, ["beat", "-s", str(schedule), "-l", celery_log_level(settings)])
