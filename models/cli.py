"""``notary-db``: migrate the configured database (``notary-db upgrade -config FILE``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from models.db import Database, sqlalchemy_url
from models.migrate import autogenerate, upgrade
from notary.errors import ConfigError
from notary.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notary-db")
    parser.add_argument("action", choices=["upgrade", "revision"])
    parser.add_argument("-config", "--config", type=Path)
    parser.add_argument("-m", "--message", default="schema change")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config, os.environ)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    database = Database(sqlalchemy_url(settings.db_url, settings["storage.backend"]))
    if args.action == "upgrade":
        upgrade(database)
    else:
        autogenerate(database, args.message)
    database.dispose()
    return 0
