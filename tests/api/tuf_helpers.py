"""Shared helpers of the ``tests/api/test_tuf_*`` modules: a running stack per module, publishing
through ``POST {T}/``, notary's error bodies, "nothing was stored" checks, and metadata planted straight
into the database."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import ServerKey
from models.tuf_files import NewFile, SqlTufStore
from notary.sealing import associated_data, unseal
from notary.settings import load_settings
from notary.tuf import signing
from notary.tuf.canonical import encode_canonical
from notary.tuf.keys import PublicKey, verify_signature
from notary.tuf.metadata import Signature, file_meta, parse_metadata, serialize
from notary.tuf.timefmt import format_go_time
from tests.support.processes import NotaryStack
from tests.support.servers import RedisServer
from tests.support.tuf_builder import Key, Repo, multipart

BASE_ROLES = ("root", "targets", "snapshot", "timestamp")
TEXT = "text/plain; charset=utf-8"
ERROR_TYPE = "application/json; charset=utf-8"
MESSAGES = {
    "METADATA_NOT_FOUND": "You have requested metadata that does not exist.",
    "INVALID_UPDATE": "Update sent by the client is invalid.",
    "VERSION": "A newer version of metadata is already available.",
    "INVALID_ROLE": "The role you are attempting to operate on is invalid.",
    "NO_FILENAME": "No file/role name provided.",
    "MALFORMED_JSON": "JSON sent by the client could not be parsed by the server",
    "MALFORMED_UPLOAD": "The body of your request is malformed.",
    "INVALID_PARAMETERS": "The parameters provided are not valid.",
    "INVALID_GUN": "The server does not support actions on images of this name.",
}
_UNSET: Any = object()


# ------------------------------------------------------------------------------------------ stacks


@contextmanager
def running_stack(root: Path, **config: Mapping[str, Any]) -> Iterator[NotaryStack]:
    """API + worker + signer on SQLite with a Redis of their own, configured with ``config`` sections
    (e.g. ``limits={"max_upload_bytes": 4096}``); everything is stopped afterwards."""
    redis = RedisServer.start(root / "redis")
    stack = NotaryStack(root / "notary", redis.url, f"sqlite:///{root}/notary.db")
    try:
        stack.write_config(**config)
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()
        redis.stop()


def unique_gun(request: pytest.FixtureRequest, prefix: str) -> str:
    """A GUN of the test's own, named after it, under ``prefix``."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[-40:]
    return f"{prefix}{name}-{secrets.token_hex(3)}"


# ------------------------------------------------------------------------------------------- paths


def tuf(gun: str, tail: str = "") -> str:
    """``/v2/{gun}/_trust/tuf/{tail}`` with the GUN URL-encoded (its ``/`` kept)."""
    return f"/v2/{quote(gun, safe='/')}/_trust/tuf/{tail}"


def changefeed_path(gun: str | None = None) -> str:
    return "/v2/_trust/changefeed" if gun is None else f"/v2/{quote(gun, safe='/')}/_trust/changefeed"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------- publishing


def publish(
    client: httpx.Client,
    gun: str,
    files: Mapping[str, bytes] | list[tuple[str, bytes]],
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """``POST {T}/`` with ``files`` encoded as the Go client does."""
    body, content_type = multipart(files)
    return post_raw(client, gun, body, content_type, headers)


def post_raw(
    client: httpx.Client,
    gun: str,
    body: bytes,
    content_type: str | None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    return client.post(tuf(gun), content=body, headers=all_headers)


def published(client: httpx.Client, gun: str, files: Mapping[str, bytes] | list[tuple[str, bytes]]) -> None:
    """Publish and require success (200, empty body)."""
    response = publish(client, gun, files)
    assert response.status_code == 200, response.text
    assert response.content == b""


def server_key(client: httpx.Client, gun: str, role: str = "timestamp") -> Key:
    response = client.get(tuf(gun, f"{role}.key"))
    assert response.status_code == 200, response.text
    return Key.from_public(response.json())


def publishes_and_reads(client: httpx.Client, gun: str) -> None:
    """A new repository publishes a target and reads it back: the API asks the signer for the timestamp
    key, then the worker verifies the update, the signer signs its timestamp, and the worker commits it."""
    repo = new_repo(client, gun)
    published(client, gun, repo.add_target("hello", b"hello"))
    targets = client.get(tuf(gun, "targets.json"))
    assert targets.status_code == 200
    assert "hello" in targets.json()["signed"]["targets"]


def new_repo(client: httpx.Client, gun: str, *, server_snapshot: bool = False, **keys: Key) -> Repo:
    """A repository initialised on the server (root, targets, and the snapshot unless the server holds
    its key); ``keys`` go to ``Repo`` (root_key, targets_key, snapshot_key)."""
    repo = Repo(gun, **keys)
    snapshot_public = server_key(client, gun, "snapshot") if server_snapshot else None
    published(client, gun, repo.init(server_key(client, gun), snapshot_public))
    return repo


# ------------------------------------------------------------------------------------------- errors


def assert_error(
    response: httpx.Response,
    status: int,
    code: str,
    *,
    name: str | None = None,
    msg: str | None = None,
    detail: Any = _UNSET,
) -> dict[str, Any]:
    """The response is notary's error envelope with ``code``; for INVALID_UPDATE, ``detail.Name`` is
    ``name`` and ``msg`` is a substring of ``detail.Error.Msg``. 4xx bodies stay under 1 KiB (the Go
    client reads no more). Returns the error object."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == ERROR_TYPE
    if 400 <= status < 500:
        assert len(response.content) < 1024, len(response.content)
    assert response.content.endswith(b"}\n"), response.content
    document = response.json()
    assert list(document) == ["errors"]
    assert len(document["errors"]) == 1
    error: dict[str, Any] = document["errors"][0]
    assert error["code"] == code, error
    if code in MESSAGES:
        assert error["message"] == MESSAGES[code]
    if detail is not _UNSET:
        assert error.get("detail") == detail, error
    if name is not None or msg is not None:
        found = error["detail"]
        assert isinstance(found, dict), error
        if name is not None:
            assert found["Name"] == name, found
        if msg is not None:
            assert msg in found["Error"]["Msg"], found
    return error


def assert_invalid_update(response: httpx.Response, name: str, msg: str) -> dict[str, Any]:
    return assert_error(response, 400, "INVALID_UPDATE", name=name, msg=msg)


# ------------------------------------------------------------------------------------ stored state


@dataclass(frozen=True)
class State:
    """What readers see of a GUN: (status, body) of each current role, and the per-GUN changefeed."""

    current: dict[str, tuple[int, bytes]]
    feed: list[dict[str, Any]]


def state(client: httpx.Client, gun: str) -> State:
    current = {}
    for role in BASE_ROLES:
        response = client.get(tuf(gun, f"{role}.json"))
        assert response.status_code in (200, 404), (role, response.status_code, response.text)
        current[role] = (response.status_code, response.content)
    feed = client.get(changefeed_path(gun), params={"records": "1000"})
    assert feed.status_code == 200, feed.text
    return State(current, feed.json()["records"])


def assert_nothing_stored(
    client: httpx.Client, gun: str, before: State, attempted: Mapping[str, bytes] | None = None
) -> None:
    """Readers see exactly ``before``, and no attempted file is stored under its checksum (unless the
    very same bytes were already stored before)."""
    assert state(client, gun) == before
    for role, data in (attempted or {}).items():
        if before.current.get(role, (404, b""))[1] == data:
            continue
        response = client.get(tuf(gun, f"{role}.{sha256_hex(data)}.json"))
        assert response.status_code == 404, f"{role} was stored"


def assert_empty(client: httpx.Client, gun: str, attempted: Mapping[str, bytes] | None = None) -> None:
    """Nothing at all is stored for ``gun``."""
    empty = State({role: (404, _not_found_body()) for role in BASE_ROLES}, [])
    assert_nothing_stored(client, gun, empty, attempted)


def _not_found_body() -> bytes:
    return (
        json.dumps(
            {
                "errors": [
                    {"code": "METADATA_NOT_FOUND", "message": MESSAGES["METADATA_NOT_FOUND"], "detail": {}}
                ]
            },
            separators=(",", ":"),
        ).encode()
        + b"\n"
    )


NOT_FOUND_BODY = _not_found_body()


# ------------------------------------------------------------------------------------------ checks


def signed_by(data: bytes, role: str, key: Key) -> bool:
    """True if ``data`` (a ``role`` file) carries a valid signature of ``key``."""
    metadata = parse_metadata(role, data)
    public: PublicKey = key.public
    return any(
        signature.keyid == key.key_id
        and verify_signature(public, signature.method, signature.sig, metadata.canonical_signed)
        for signature in metadata.signatures
    )


def meta_sha256_hex(data: bytes, role: str) -> str:
    """The hex sha256 that a snapshot or timestamp file records for ``role``."""
    return base64.b64decode(json.loads(data)["signed"]["meta"][role]["hashes"]["sha256"]).hex()


def version_of(data: bytes) -> int:
    return int(json.loads(data)["signed"]["version"])


# ----------------------------------------------------------------------------------- planted data


def plant_timestamp(stack: NotaryStack, gun: str, expires: datetime) -> int:
    """Store a correctly signed timestamp that expires at ``expires``, as if written long ago: the test holds
    the signer's KEK, so it signs with the repository's own timestamp key, exactly as the signer would."""
    keks = load_settings(None, {"NOTARY_SERVER_SIGNER_KEKS": stack.kek})["signer.keks"]
    database = Database(stack.db_url)
    with database.transaction() as session:
        store = SqlTufStore(session)
        row = session.scalars(
            select(ServerKey).where(ServerKey.gun == gun, ServerKey.role == "timestamp")
        ).one()
        private = unseal(keks, row.kek_id, row.private_sealed, associated_data(row.key_id, gun, "timestamp"))
        snapshot = store.current(gun, "snapshot")
        assert snapshot is not None
        version = store.latest(gun, "timestamp").version + 1  # type: ignore[union-attr]
        signed = {
            "_type": "Timestamp",
            "expires": format_go_time(expires),
            "meta": {"snapshot": file_meta(snapshot.data)},
            "version": version,
        }
        method, sig = signing.sign(private, encode_canonical(signed))
        raw = serialize(signed, [Signature(row.key_id, method, sig)])
        planted = parse_metadata("timestamp", raw)
        store.store_update(gun, [NewFile("timestamp", version, raw, planted.sha256, planted.expires)])
    database.dispose()
    return version
