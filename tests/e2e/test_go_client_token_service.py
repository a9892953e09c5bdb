"""The real Go notary client against token auth served by our own token service: it reads the realm from
the 401, fetches tokens from ``/auth/token`` with ``NOTARY_AUTH`` (Basic) to publish, and anonymously to
read a public repository.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.go_client import GoNotary, file_target, require_go_client
from tests.support.processes import NotaryStack
from tests.support.token_service import token_service_files

pytestmark = pytest.mark.e2e

require_go_client()

ISSUER, SERVICE = "e2e-token-issuer", "e2e-notary"
PUBLIC_GUN = "example.com/public/app"
USERS = {"alice": "alice's password", "mallory": "mallory's password"}
GRANTS = f"""\
alice: repository:example.com/*:*
@anonymous: repository:{PUBLIC_GUN}:pull
"""


def with_credentials(client: GoNotary, user: str) -> GoNotary:
    client.env["NOTARY_AUTH"] = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    return client


def test_publish_with_a_password_and_read_anonymously(stack: NotaryStack, tmp_path: Path) -> None:
    section = token_service_files(tmp_path / "tokens", USERS, GRANTS)
    stack.write_config(
        auth={
            "type": "token",
            "options": {
                "realm": f"{stack.base_url}/auth/token",
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": section["cert_file"],
            },
        },
        token_service=section,
    )
    stack.start_all()
    publisher = with_credentials(GoNotary(stack, tmp_path / "alice"), "alice")

    publisher.run("init", PUBLIC_GUN, "-p")
    payload = tmp_path / "payload.txt"
    payload.write_bytes(b"published through a token\n")
    publisher.run("add", PUBLIC_GUN, "v1", str(payload), "-p")
    publisher.run("key", "rotate", PUBLIC_GUN, "snapshot", "-r")  # needs the '*' action
    assert publisher.list(PUBLIC_GUN) == {"v1": file_target(payload)}

    anonymous = GoNotary(stack, tmp_path / "anonymous")
    assert anonymous.list(PUBLIC_GUN) == {"v1": file_target(payload)}
    assert "NOTARY_AUTH" not in anonymous.env

    # mallory has a password but no grant on the repository: her token is empty, the server refuses.
    intruder = with_credentials(GoNotary(stack, tmp_path / "mallory"), "mallory")
    intruder.run("init", "example.com/alice/other", "-p", expect=1)
