"""POST /v1/bulk/publish: good and bad repositories in one job, each with the outcome a single POST {T}/
gives it; JSON and tar bodies; limits; Idempotency-Key; the job document; one webhook for the whole bulk."""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from models.db import Database
from models.tables import Job, WebhookDelivery
from notary import webhooks
from tests.api.bulk_helpers import (
    finished_job,
    initial_repositories,
    json_body,
    submit,
    tar_body,
    tar_entries,
)
from tests.api.tuf_helpers import (
    assert_error,
    assert_nothing_stored,
    changefeed_path,
    new_repo,
    publish,
    running_stack,
    server_key,
    state,
    tuf,
    version_of,
)
from tests.support.processes import NotaryStack, wait_until
from tests.support.receiver import Receiver
from tests.support.tuf_builder import Key, Repo

PREFIX = "bulk/"
MAX_UPLOAD = 256 * 1024
MAX_PART = 16 * 1024
MAX_REPOSITORIES = 12
SECRET = webhooks.new_secret()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    with running_stack(
        tmp_path_factory.mktemp("bulk"),
        repositories={"gun_prefixes": [PREFIX]},
        limits={
            "max_upload_bytes": MAX_UPLOAD,
            "max_part_bytes": MAX_PART,
            "max_bulk_repositories": MAX_REPOSITORIES,
        },
        webhooks={"secret": SECRET, "allow_private_targets": True, "backoff_base": 0.2},
    ) as stack:
        yield stack


def new_gun(name: str) -> str:
    return f"{PREFIX}{name}-{secrets.token_hex(3)}"


def single_post_error(client: httpx.Client, gun: str, files: dict[str, bytes]) -> dict[str, Any]:
    """The error a single ``POST {T}/`` of the same files answers with."""
    response = publish(client, gun, files)
    assert response.status_code >= 400, response.text
    error: dict[str, Any] = response.json()["errors"][0]
    return error


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    document: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/jobs/{document['id']}"
    assert document["kind"] == "bulk.publish"
    return document


# ------------------------------------------------------------------------------- mixed outcomes


def test_good_and_bad_repositories_each_get_the_single_post_outcome(client: httpx.Client) -> None:
    fresh = new_gun("fresh")
    fresh_files = Repo(fresh).init(server_key(client, fresh))

    updated = new_gun("updated")
    updated_repo = new_repo(client, updated)
    updated_files = updated_repo.add_target("v1", b"one")

    bad_signature = new_gun("bad-signature")
    bad_signature_repo = new_repo(client, bad_signature)
    bad_signature_repo.targets["targets"]["v1"] = b"one"
    bad_signature_files = bad_signature_repo.publish("targets", signers={"targets": [Key.generate()]})

    old_version = new_gun("old-version")
    old_version_repo = new_repo(client, old_version)
    old_version_repo.versions["targets"] = 0  # targets 1 again: validation passes, the store refuses
    old_version_files = old_version_repo.add_target("v1", b"one")

    no_root = new_gun("no-root")
    no_root_files = {"targets": Repo(no_root).publish("targets")["targets"]}

    unknown_timestamp_key = new_gun("unknown-timestamp-key")
    unknown_timestamp_key_files = Repo(unknown_timestamp_key).init(Key.generate())

    bad_json = new_gun("bad-json")
    bad_json_files = {"root": b'{"signed": not json'}

    bad_role = new_gun("bad-role")
    bad_role_files = {"rooot": fresh_files["root"]}

    outside = "elsewhere/" + secrets.token_hex(3)
    outside_files = Repo(outside).init(Key.generate())

    cases = [
        (fresh, fresh_files),
        (bad_signature, bad_signature_files),
        (updated, updated_files),
        (old_version, old_version_files),
        (no_root, no_root_files),
        (unknown_timestamp_key, unknown_timestamp_key_files),
        (bad_json, bad_json_files),
        (bad_role, bad_role_files),
        (outside, outside_files),
    ]
    before = {gun: state(client, gun) for gun, _ in cases if gun != outside}

    document = accepted(submit(client, json_body(cases)))
    assert document["state"] in ("queued", "running")
    assert document["progress"]["total"] == len(cases)
    done = finished_job(client, document["id"])

    assert done["state"] == "succeeded", "every repository was processed, even though some failed"
    assert done["progress"] == {"done": 9, "total": 9, "failed": 7}
    outcomes = done["result"]["repositories"]
    assert [outcome["gun"] for outcome in outcomes] == [gun for gun, _ in cases], "in request order"
    by_gun = {outcome["gun"]: outcome for outcome in outcomes}

    assert by_gun[fresh] == {"gun": fresh, "state": "published", "version": 1}
    assert by_gun[updated] == {"gun": updated, "state": "published", "version": 2}
    assert client.get(tuf(fresh, "root.json")).content == fresh_files["root"]
    assert client.get(tuf(updated, "targets.json")).content == updated_files["targets"]
    assert version_of(client.get(tuf(updated, "timestamp.json")).content) == 2

    expected_codes = {
        bad_signature: "INVALID_UPDATE",
        old_version: "VERSION",
        no_root: "INVALID_UPDATE",
        unknown_timestamp_key: "INVALID_UPDATE",
        bad_json: "MALFORMED_JSON",
        bad_role: "INVALID_ROLE",
        outside: "INVALID_GUN",
    }
    for gun, files in cases:
        if gun not in expected_codes:
            continue
        outcome = by_gun[gun]
        assert outcome["state"] == "failed", outcome
        assert outcome["error"]["code"] == expected_codes[gun], outcome
        if gun != outside:
            assert_nothing_stored(client, gun, before[gun], files)
        # Nothing was stored, so a single POST of the same files meets the same state: same answer.
        assert outcome["error"] == single_post_error(client, gun, dict(files)), gun


def test_files_given_as_json_objects_are_stored_as_the_go_client_sends_them(client: httpx.Client) -> None:
    gun = new_gun("objects")
    [(_, files)] = initial_repositories(client, [gun])
    document = accepted(submit(client, json_body([(gun, files)], as_objects=True)))
    assert finished_job(client, document["id"])["result"]["repositories"][0]["state"] == "published"
    for role, data in files.items():
        assert client.get(tuf(gun, f"{role}.json")).content == data, role


def test_files_given_as_strings_are_stored_byte_exact(client: httpx.Client) -> None:
    gun = new_gun("pretty")
    repo = Repo(gun)
    files = repo.init(server_key(client, gun))
    pretty_targets = json.dumps(json.loads(files["targets"]), indent=3).encode()
    repo.files["targets"] = pretty_targets
    files = {"root": files["root"], "targets": pretty_targets, **repo.publish()}  # a snapshot over it
    document = accepted(submit(client, json_body([(gun, files)])))
    assert finished_job(client, document["id"])["result"]["repositories"][0]["state"] == "published"
    assert client.get(tuf(gun, "targets.json")).content == pretty_targets


# ---------------------------------------------------------------------------------------- tar


@pytest.mark.parametrize("compression", ["plain", "gzip-type", "gzip-encoding"])
def test_tar_archive_with_a_delegation_and_a_new_repository(client: httpx.Client, compression: str) -> None:
    delegated = new_gun("delegated")
    repo = new_repo(client, delegated)
    releases_key = Key.generate()
    response = publish(client, delegated, repo.add_delegation("targets/releases", releases_key))
    assert response.status_code == 200, response.text
    delegated_files = repo.publish_delegation_target("targets/releases", "v1", b"one")
    [(fresh, fresh_files)] = initial_repositories(client, [new_gun("tar-fresh")])
    bad_role = new_gun("tar-bad-role")

    entries = [
        *tar_entries([(delegated, delegated_files)]),
        (f"{fresh}/_trust/tuf/root.json", fresh_files["root"]),
        (f"{bad_role}/_trust/tuf/Root.json", fresh_files["root"]),
        *tar_entries([(fresh, {"targets": fresh_files["targets"], "snapshot": fresh_files["snapshot"]})]),
    ]
    body = tar_body(entries, compress=compression != "plain")
    content_type, headers = {
        "plain": ("application/x-tar", {}),
        "gzip-type": ("application/gzip", {}),
        "gzip-encoding": ("application/x-tar", {"Content-Encoding": "gzip"}),
    }[compression]
    document = accepted(submit(client, body, content_type, headers))
    outcomes = finished_job(client, document["id"])["result"]["repositories"]

    assert [outcome["gun"] for outcome in outcomes] == [delegated, fresh, bad_role], "first appearance"
    assert outcomes[0] == {"gun": delegated, "state": "published", "version": 3}
    assert outcomes[1] == {"gun": fresh, "state": "published", "version": 1}
    assert outcomes[2]["error"]["code"] == "INVALID_ROLE"
    assert client.get(tuf(delegated, "targets/releases.json")).content == delegated_files["targets/releases"]
    assert client.get(tuf(fresh, "snapshot.json")).content == fresh_files["snapshot"]


@pytest.mark.parametrize(
    "name",
    [
        "bulk/a/root.json",  # no separator
        "bulk/a/_trust/tuf/_trust/tuf/root.json",  # two readings
        "bulk/a/_trust/tuf/root",  # no .json
    ],
)
def test_tar_entry_names_must_be_unambiguous(client: httpx.Client, name: str) -> None:
    response = submit(client, tar_body([(name, b"{}")]), "application/x-tar")
    assert_error(response, 400, "MALFORMED_UPLOAD")


def test_tar_links_are_refused(client: httpx.Client) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("bulk/a/_trust/tuf/root.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    response = submit(client, buffer.getvalue(), "application/x-tar")
    assert_error(response, 400, "MALFORMED_UPLOAD")


# ------------------------------------------------------------------------------------- limits


def test_declared_body_over_the_upload_limit_is_413(client: httpx.Client) -> None:
    response = submit(client, b" " * (MAX_UPLOAD + 1))
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_body_over_the_upload_limit_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(MAX_UPLOAD // 4096 + 2):
            yield b" " * 4096

    response = client.post("/v1/bulk/publish", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_compressed_archive_that_unpacks_past_the_upload_limit_is_413(client: httpx.Client) -> None:
    body = tar_body(
        [(f"{PREFIX}bomb/_trust/tuf/targets/r{i}.json", b"\0" * 15_000) for i in range(30)], compress=True
    )
    assert len(body) < MAX_UPLOAD
    response = submit(client, body, "application/gzip")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_file_over_the_part_limit_is_413(client: httpx.Client) -> None:
    body = json_body([(new_gun("big"), {"root": b" " * (MAX_PART + 1)})])
    assert_error(submit(client, body), 413, "PAYLOAD_TOO_LARGE")
    archive = tar_body([(f"{new_gun('big')}/_trust/tuf/root.json", b" " * (MAX_PART + 1))])
    assert_error(submit(client, archive, "application/x-tar"), 413, "PAYLOAD_TOO_LARGE")


def test_more_repositories_than_the_limit_is_413(client: httpx.Client) -> None:
    repositories = [(new_gun(f"many{i}"), {"root": b"{}"}) for i in range(MAX_REPOSITORIES + 1)]
    assert_error(submit(client, json_body(repositories)), 413, "TOO_MANY_REPOSITORIES")
    archive = tar_body(tar_entries(repositories))
    assert_error(submit(client, archive, "application/x-tar"), 413, "TOO_MANY_REPOSITORIES")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"repositories": []}',
        b'{"repositories": [{"gun": 1, "files": {}}]}',
        b'{"repositories": [{"gun": "bulk/x", "files": []}]}',
        b'{"repositories": [{"gun": "bulk/x", "files": {}, "extra": 1}]}',
        b'{"repositories": [{"gun": "bulk/x", "files": {}}, {"gun": "bulk/x", "files": {}}]}',
    ],
)
def test_malformed_requests_are_400_malformed_upload(client: httpx.Client, body: bytes) -> None:
    assert_error(submit(client, body), 400, "MALFORMED_UPLOAD")


def test_other_media_types_are_415(client: httpx.Client) -> None:
    assert_error(submit(client, b"{}", "text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE")
    assert_error(
        submit(client, b"{}", "application/json", {"Content-Encoding": "br"}), 415, "UNSUPPORTED_MEDIA_TYPE"
    )


# -------------------------------------------------------------------------------- idempotency


def test_retry_with_the_same_key_returns_the_same_job_and_publishes_once(client: httpx.Client) -> None:
    repositories = initial_repositories(client, [new_gun("retry-a"), new_gun("retry-b")])
    body = json_body(repositories)
    key = {"Idempotency-Key": secrets.token_hex(16)}

    first = accepted(submit(client, body, headers=key))
    again = submit(client, body, headers=key)  # at once: the job may still run
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    assert again.headers["location"] == f"/v1/jobs/{first['id']}"

    finished_job(client, first["id"])
    late = submit(client, body, headers={"Idempotency-Key": f'"{key["Idempotency-Key"]}"'})  # sf-string form
    assert late.status_code == 200, late.text
    assert late.json()["id"] == first["id"]
    assert late.json()["state"] == "succeeded"
    assert late.json()["result"]["repositories"][0]["state"] == "published"
    for gun, _ in repositories:
        feed = client.get(changefeed_path(gun), params={"records": "100"}).json()["records"]
        assert [record["Version"] for record in feed] == [1], "published exactly once"


def test_same_key_with_another_request_is_422(client: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(16)}
    [repository] = initial_repositories(client, [new_gun("key-reuse")])
    accepted(submit(client, json_body([repository]), headers=key))
    other_body = json_body([repository], callback_url=None)  # the same repositories, spelled differently
    assert_error(submit(client, other_body, headers=key), 422, "IDEMPOTENCY_KEY_REUSED")
    other_callback = client.post(
        "/v1/bulk/publish?callback_url=https://example.com/hook",
        content=json_body([repository]),
        headers={"Content-Type": "application/json", **key},
    )
    assert_error(other_callback, 422, "IDEMPOTENCY_KEY_REUSED")


@pytest.mark.parametrize("value", ["", "x" * 256, "caf\u00e9"])
def test_malformed_idempotency_keys_are_400(client: httpx.Client, value: str) -> None:
    response = client.post(
        "/v1/bulk/publish",
        content=b"{}",
        headers={"Content-Type": "application/json", "Idempotency-Key": value.encode("utf-8")},
    )
    assert_error(response, 400, "INVALID_IDEMPOTENCY_KEY")


# ----------------------------------------------------------------------------------- webhook


def test_one_webhook_when_the_whole_bulk_finishes(client: httpx.Client, server: NotaryStack) -> None:
    receiver = Receiver()
    try:
        repositories = initial_repositories(client, [new_gun(f"hook{i}") for i in range(10)])
        body = json_body(repositories, callback_url=receiver.url + "/bulk")
        document = accepted(submit(client, body))
        finished_job(client, document["id"])
        [request] = wait_until(receiver.received, 30, what="the webhook")
        webhooks.verify(SECRET, request.headers, request.body, int(time.time()))
        message = json.loads(request.body)
        assert message["type"] == "job.finished"
        assert message["data"]["id"] == document["id"]
        assert [r["state"] for r in message["data"]["result"]["repositories"]] == ["published"] * 10

        database = Database(server.db_url)
        with database.read() as session:
            batches = session.scalars(select(Job.id).where(Job.params.contains(document["id"]))).all()
            deliveries = session.scalars(select(WebhookDelivery.job_id)).all()
        database.dispose()
        assert len(batches) > 1, "the repositories were fanned out over several batch jobs"
        assert deliveries.count(document["id"]) == 1
        assert not set(batches) & set(deliveries), "batches send no webhook of their own"
        assert len(receiver.received()) == 1
    finally:
        receiver.close()


def test_the_202_document_shows_progress_and_no_result_yet(client: httpx.Client) -> None:
    repositories = initial_repositories(client, [new_gun("doc")])
    document = accepted(submit(client, json_body(repositories)))
    assert document["progress"] == {"done": 0, "total": 1, "failed": 0}
    assert "result" not in document
    assert finished_job(client, document["id"])["progress"] == {"done": 1, "total": 1, "failed": 0}
