"""Files for the built-in token service: a dev signing key and certificate, users and grants files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from notary.auth.service.dev_cert import make_dev_certificate
from notary.auth.service.users import hash_password


def token_service_files(root: Path, users: Mapping[str, str], grants: str) -> dict[str, Any]:
    """Write the files under ``root``; return the ``token_service`` config section that uses them. The
    certificate (``root/token.crt``) doubles as the verifier's ``auth.options.rootcertbundle``."""
    root.mkdir(parents=True, exist_ok=True)
    made = make_dev_certificate()
    (root / "token.key").write_bytes(made.key_pem)
    (root / "token.crt").write_bytes(made.cert_pem)
    lines = "".join(
        f"{name}:{hash_password(password.encode(), cost=4)}\n" for name, password in users.items()
    )
    (root / "users.htpasswd").write_text(lines)
    (root / "grants").write_text(grants)
    return {
        "enabled": True,
        "users_file": str(root / "users.htpasswd"),
        "grants_file": str(root / "grants"),
        "key_file": str(root / "token.key"),
        "cert_file": str(root / "token.crt"),
        "ttl": 120,
    }
