"""The real Go notary client against a server that serves HTTPS, token auth with ``autoredirect`` and its
own token service: the 401 names ``https://<Host>/auth/token`` as the realm, and the client fetches its
tokens there with ``NOTARY_AUTH``, trusting our throwaway CA with ``--tlscacert``."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.support.certificates import ThrowawayCA
from tests.support.go_client import GoNotary, file_target, parse_list, require_go_client
from tests.support.processes import NotaryStack
from tests.support.token_service import token_service_files

pytestmark = pytest.mark.e2e

require_go_client()

ISSUER, SERVICE = "autoredirect-issuer", "autoredirect-notary"
GUN = "example.com/redirected/app"


def test_go_client_follows_the_autoredirect_realm_over_https(stack: NotaryStack, tmp_path: Path) -> None:
    ca = ThrowawayCA()
    server = ca.server().write(tmp_path / "tls", "server")
    tokens = token_service_files(
        tmp_path / "tokens", {"alice": "alice's password"}, "alice: repository:*:*\n"
    )
    stack.write_config(
        server={"tls_cert_file": str(server.cert), "tls_key_file": str(server.key)},
        auth={
            "type": "token",
            "options": {
                "realm": "https://unused.invalid/token",  # replaced by https://<Host>/auth/token
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": tokens["cert_file"],
                "autoredirect": True,
            },
        },
        token_service=tokens,
    )
    stack.scheme = "https"
    stack.client_options = {"verify": ca.trusting_context()}
    stack.start_all()

    challenge = httpx.get(stack.base_url + "/v2/", **stack.client_options).headers["www-authenticate"]
    host = stack.base_url.removeprefix("https://")
    assert challenge.startswith(f'Bearer realm="https://{host}/auth/token",service="{SERVICE}"')

    alice = GoNotary(stack, tmp_path / "alice")
    alice.env["NOTARY_AUTH"] = base64.b64encode(b"alice:alice's password").decode()
    trust_ca = ("--tlscacert", str(ca.write_cert(tmp_path / "tls" / "ca.crt")))
    alice.run(*trust_ca, "init", GUN, "-p")
    artifact = tmp_path / "artifact.txt"
    artifact.write_bytes(b"fetched a token from the redirected realm\n")
    alice.run(*trust_ca, "add", GUN, "v1", str(artifact), "-p")
    assert parse_list(alice.run(*trust_ca, "list", GUN).stdout) == {"v1": file_target(artifact)}

    stranger = GoNotary(stack, tmp_path / "stranger")
    stranger.env["NOTARY_AUTH"] = base64.b64encode(b"alice:wrong password").decode()
    stranger.run(*trust_ca, "list", GUN, expect=1)
