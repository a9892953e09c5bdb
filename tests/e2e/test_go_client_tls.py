"""The real Go notary client over HTTPS, trusting our throwaway CA with ``--tlscacert``, as notary's docs
run it against notary-server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.certificates import ThrowawayCA
from tests.support.go_client import GoNotary, file_target, parse_list, require_go_client
from tests.support.processes import NotaryStack

pytestmark = pytest.mark.e2e

require_go_client()


def test_go_client_publishes_and_lists_over_https(stack: NotaryStack, tmp_path: Path) -> None:
    ca = ThrowawayCA()
    server = ca.server().write(tmp_path / "tls", "server")
    stack.write_config(server={"tls_cert_file": str(server.cert), "tls_key_file": str(server.key)})
    stack.scheme = "https"
    stack.client_options = {"verify": ca.trusting_context()}
    stack.start_all()
    gun = "example.com/tls/app"
    notary = GoNotary(stack, tmp_path / "client")
    trust_ca = ("--tlscacert", str(ca.write_cert(tmp_path / "tls" / "ca.crt")))

    untrusting = notary.run("list", gun, expect=1)
    assert "certificate signed by unknown authority" in untrusting.stdout + untrusting.stderr

    notary.run(*trust_ca, "init", gun, "-p")
    notary.run(*trust_ca, "key", "rotate", gun, "snapshot", "-r")  # the server signs snapshots from now on
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(os.urandom(256))
    notary.run(*trust_ca, "add", gun, "artifact", str(artifact), "-p")
    assert parse_list(notary.run(*trust_ca, "list", gun).stdout) == {"artifact": file_target(artifact)}
