"""Helpers of the bulk publishing tests (and bench/bulk_publish.py): request bodies in both forms, submitting,
and following the job."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from tests.api.tuf_helpers import server_key
from tests.support.processes import wait_until
from tests.support.tuf_builder import Repo

BULK = "/v1/bulk/publish"
Files = Mapping[str, bytes]


def json_body(repositories: Iterable[tuple[str, Files]], *, as_objects: bool = False, **extra: Any) -> bytes:
    """The JSON request; files as strings (exact bytes) or, with ``as_objects``, as decoded JSON objects."""
    entries = [
        {
            "gun": gun,
            "files": {
                role: json.loads(data) if as_objects else data.decode() for role, data in files.items()
            },
        }
        for gun, files in repositories
    ]
    return json.dumps({"repositories": entries, **extra}).encode()


def tar_body(entries: Iterable[tuple[str, bytes]], *, compress: bool = False) -> bytes:
    """A tar archive of (entry name, content)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue()) if compress else buffer.getvalue()


def tar_entries(repositories: Iterable[tuple[str, Files]]) -> list[tuple[str, bytes]]:
    return [
        (f"{gun}/_trust/tuf/{role}.json", data) for gun, files in repositories for role, data in files.items()
    ]


def submit(
    client: httpx.Client,
    body: bytes,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    return client.post(BULK, content=body, headers={"Content-Type": content_type, **(headers or {})})


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def finished_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    document: dict[str, Any] = wait_until(
        lambda: (found := job(client, job_id))["state"] in ("succeeded", "failed") and found,
        timeout,
        interval=0.1,
        what=f"bulk job {job_id}",
    )
    return document


def initial_repositories(client: httpx.Client, guns: Iterable[str]) -> list[tuple[str, dict[str, bytes]]]:
    """For each GUN, ``notary init``'s files (root, targets, snapshot) over the server's timestamp key."""
    return [(gun, Repo(gun).init(server_key(client, gun))) for gun in guns]
