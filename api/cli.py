"""``notary-server -config FILE``: validate the configuration, migrate the database, then serve the ASGI app
with gunicorn and uvicorn workers (the fastest stack measured here for this workload).

Flags follow notary-server: ``-config``, ``-debug`` (debug logging), ``-logf`` (accepted; logs are JSON).
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
from pathlib import Path
from typing import Any

from api.auth import load_bundle, token_auth_enabled
from notary.auth.service.token_service import TokenService
from notary.broker_auth import check_broker_auth
from notary.errors import ConfigError
from notary.keys.federation import load_login_body
from notary.settings import Settings, load_settings
from workers.cli import refuse_signer_keks

CONFIG_ENV = "NOTARY_CONFIG_FILE"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="notary-server", description="Notary-compatible TUF metadata server"
    )
    parser.add_argument("-config", "--config", type=Path, default=os.environ.get(CONFIG_ENV) or None)
    parser.add_argument("-debug", "--debug", action="store_true")
    parser.add_argument("-logf", "--logf", choices=["json", "logfmt"], default="json")
    return parser.parse_args(argv)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    host, port = settings.http_host_port
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": [bind],
        "workers": settings["server.workers"],
        "worker_class": "uvicorn_worker.UvicornWorker",
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "notary-server",
    }
    cert, key, client_ca = (
        settings.path(k) for k in ("server.tls_cert_file", "server.tls_key_file", "server.client_ca_file")
    )
    if cert and key:
        options.update(certfile=str(cert), keyfile=str(key))
        if client_ca:
            options.update(ca_certs=str(client_ca), cert_reqs=ssl.CERT_REQUIRED)
    return options


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        if args.config is not None:
            os.environ[CONFIG_ENV] = str(args.config.resolve())
        if args.debug:
            os.environ["NOTARY_SERVER_LOGGING_LEVEL"] = "debug"
        settings = load_settings(args.config, os.environ)
        refuse_signer_keks(settings)
        check_broker_auth(settings)
        for key in ("server.tls_cert_file", "server.tls_key_file", "server.client_ca_file"):
            path = settings.path(key)
            if path is not None and not path.is_file():
                raise ConfigError(key, settings.source(key), f"file not found: {path}")
        if token_auth_enabled(settings):
            load_bundle(settings)
        TokenService.from_settings(settings)  # a bad key, users or grants file stops start-up here
        load_login_body(settings)  # the federation identity's files, read and checked before serving
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    from workers.cli import prepare_process

    prepare_process(settings)  # logging and the metrics folder, before prometheus_client is imported
    from models.db import Database, sqlalchemy_url
    from models.migrate import upgrade

    database = Database(sqlalchemy_url(settings.db_url, settings["storage.backend"]))
    upgrade(database)
    database.dispose()
    _serve(gunicorn_options(settings))
    return 0


def _serve(options: dict[str, Any]) -> None:
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    def child_exit(server: Any, worker: Any) -> None:
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    class NotaryServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in {**options, "child_exit": child_exit}.items():
                self.cfg.set(name, value)

        def load(self) -> Any:
            from api.app import get_app

            return get_app()

    NotaryServer().run()
