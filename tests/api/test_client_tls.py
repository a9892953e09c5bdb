"""TLS for clients, with a throwaway CA made here: ``server.tls_cert_file``/``server.tls_key_file`` serve
HTTPS, and ``server.client_ca_file`` requires a client certificate issued by that CA (mutual TLS)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.tuf_helpers import new_repo, published, signed_by, tuf
from tests.support.certificates import ThrowawayCA
from tests.support.processes import NotaryStack


def serve_https(stack: NotaryStack, ca: ThrowawayCA, *, client_ca: Path | None = None) -> None:
    server = ca.server().write(stack.root / "tls", "server")
    section = {"tls_cert_file": str(server.cert), "tls_key_file": str(server.key)}
    if client_ca is not None:
        section["client_ca_file"] = str(client_ca)
    stack.write_config(server=section)
    stack.scheme = "https"


def test_https_serves_a_tuf_publish_to_clients_trusting_the_ca(stack: NotaryStack) -> None:
    ca = ThrowawayCA()
    serve_https(stack, ca)
    stack.client_options = {"verify": ca.trusting_context()}
    stack.start_all()

    with pytest.raises(httpx.TransportError):  # plain HTTP on the TLS port: no answer
        httpx.get(f"http://127.0.0.1:{stack.port}/v2/", timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # a client not trusting our CA
        httpx.get(f"{stack.base_url}/v2/", timeout=10)

    gun = "tls.example/app"
    with stack.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
        published(client, gun, repo.add_target("over-tls", b"payload"))
        targets = client.get(tuf(gun, "targets.json"))
        timestamp = client.get(tuf(gun, "timestamp.json"))
    assert targets.status_code == 200
    assert targets.content == repo.files["targets"]
    assert timestamp.status_code == 200
    assert repo.timestamp_public is not None
    assert signed_by(timestamp.content, "timestamp", repo.timestamp_public)


def test_client_ca_file_requires_a_client_certificate_from_that_ca(
    stack: NotaryStack, tmp_path: Path
) -> None:
    ca = ThrowawayCA()
    other_ca = ThrowawayCA("Some other CA")
    serve_https(stack, ca, client_ca=ca.write_cert(tmp_path / "ca.crt"))
    good = ca.client("publisher").write(tmp_path, "publisher")
    stack.client_options = {"verify": ca.trusting_context(good)}
    stack.start("web")

    no_certificate = ca.trusting_context()
    foreign_certificate = ca.trusting_context(other_ca.client("intruder").write(tmp_path, "intruder"))
    for context in (no_certificate, foreign_certificate):
        with pytest.raises(httpx.TransportError):  # the server refuses the handshake
            httpx.get(f"{stack.base_url}/v2/", verify=context, timeout=10)

    with stack.client() as client:
        assert client.get("/v2/").status_code == 200
        assert client.get("/_notary_server/health").status_code == 200
