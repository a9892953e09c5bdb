"""First-run set-up of a data directory for the embedded default: a config file with a fresh webhook secret,
and the signer's key-encryption key in its own file (mode 0600) that only the signer process reads."""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def main(data_dir: Path) -> None:
    config = data_dir / "notary.json"
    if not config.exists():
        document = {
            "server": {"http_addr": "127.0.0.1:4443", "data_dir": "."},
            "storage": {"backend": "sqlite"},
            "logging": {"level": "info"},
            "webhooks": {"secret": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()},
        }
        write_private(config, json.dumps(document, indent=2) + "\n")
        print(f"wrote {config}")
    keks = data_dir / "signer.keks"
    if not keks.exists():
        write_private(keks, f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}\n")
        print(f"wrote {keks}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
