"""The real Go notary client against our server with token auth: it reads the realm from the 401 of its
ping, gets tokens from a small token server (tests.support.token_issuer.TokenServer), and publishes, rotates
and deletes with them; a reader without credentials gets anonymous pull tokens."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.go_client import GoNotary, file_target, require_go_client
from tests.support.processes import NotaryStack
from tests.support.token_issuer import ISSUER, SERVICE, TokenIssuer, TokenServer

pytestmark = pytest.mark.e2e

require_go_client()

GUN = "example.com/token/app"


@pytest.fixture
def token_server() -> Iterator[TokenServer]:
    server = TokenServer(TokenIssuer())
    yield server
    server.close()


def test_go_client_with_token_auth(stack: NotaryStack, token_server: TokenServer, tmp_path: Path) -> None:
    bundle = stack.root / "bundle.pem"
    bundle.write_bytes(token_server.issuer.bundle_pem())
    options = {
        "realm": token_server.realm,
        "service": SERVICE,
        "issuer": ISSUER,
        "rootcertbundle": str(bundle),
    }
    stack.write_config(auth={"type": "token", "options": options})
    stack.start_all()

    publisher = GoNotary(stack, tmp_path / "publisher")
    publisher.env["NOTARY_AUTH"] = base64.b64encode(b"alice:secret").decode()
    payload = tmp_path / "v1.txt"
    payload.write_bytes(b"payload v1\n" + os.urandom(32))
    publisher.run("init", GUN, "-p")
    publisher.run("add", GUN, "v1", str(payload), "-p")
    publisher.run("key", "rotate", GUN, "snapshot", "-r")
    assert publisher.list(GUN) == {"v1": file_target(payload)}

    reader = GoNotary(stack, tmp_path / "reader")
    assert reader.list(GUN) == {"v1": file_target(payload)}

    asked = token_server.asked()
    assert ("alice", f"repository:{GUN}:push,pull") in asked
    assert ("alice", f"repository:{GUN}:*") in asked, "key rotation with -r needs the * action"
    assert any(user is None and scope == f"repository:{GUN}:pull" for user, scope in asked)

    publisher.run("delete", GUN, "--remote")
    publisher.list_fails(GUN)
    assert ("alice", f"repository:{GUN}:*") in token_server.asked()[len(asked) :], "delete --remote needs *"
