"""Helpers for tests that publish through the real server like the Go client."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from notary.tuf.keys import PublicKey
from tests.support.tuf_builder import Key, Repo, multipart


def tuf_path(gun: str, name: str = "") -> str:
    return f"/v2/{gun}/_trust/tuf/{name}"


def publish(client: httpx.Client, gun: str, files: Mapping[str, bytes]) -> httpx.Response:
    body, content_type = multipart(dict(files))
    return client.post(tuf_path(gun), content=body, headers={"Content-Type": content_type})


def server_key(client: httpx.Client, gun: str, role: str) -> Key:
    response = client.get(tuf_path(gun, f"{role}.key"))
    response.raise_for_status()
    return Key.from_public(PublicKey.from_dict(response.json()))


def new_repository(client: httpx.Client, gun: str, *, server_snapshot: bool = False) -> Repo:
    """``notary init -p`` (and, with ``server_snapshot``, ``key rotate snapshot -r`` before it)."""
    repo = Repo(gun)
    snapshot = server_key(client, gun, "snapshot") if server_snapshot else None
    response = publish(client, gun, repo.init(server_key(client, gun, "timestamp"), snapshot))
    assert response.status_code == 200, response.text
    return repo
