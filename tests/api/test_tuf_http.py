"""GET/HEAD/DELETE of metadata and the publish round trip over HTTP (contract §2.1, §2.2, §2.4, §2.7):
exact bytes, cache headers, ETag/304, HEAD, 404s, pretty uploads that stay readable, delegations, odd
GUNs, exact-GUN delete, and ``Prefer: respond-async``."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.tuf_helpers import (
    NOT_FOUND_BODY,
    TEXT,
    assert_error,
    changefeed_path,
    meta_sha256_hex,
    new_repo,
    publish,
    published,
    running_stack,
    server_key,
    sha256_hex,
    signed_by,
    tuf,
    unique_gun,
    version_of,
)
from tests.support.processes import NotaryStack, wait_until
from tests.support.tuf_builder import (
    Key,
    Repo,
    multipart,
    root_signed,
    sign_file,
    snapshot_signed,
    targets_signed,
)

CURRENT_CACHE = "public, max-age=300, s-maxage=300, must-revalidate"
CONSISTENT_CACHE = "public, max-age=2592000, s-maxage=2592000"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notary"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    with running_stack(tmp_path_factory.mktemp("tuf-http")) as stack:
        yield stack


@pytest.fixture
def gun(request: pytest.FixtureRequest) -> str:
    return unique_gun(request, "http/")


@dataclass
class Published:
    """A repository after ``init`` and one ``add``: what was uploaded at each step."""

    gun: str
    repo: Repo
    init: dict[str, bytes]
    add: dict[str, bytes]


@pytest.fixture(scope="module")
def repository(server: NotaryStack) -> Published:
    gun = "example.com/http/app"
    with server.client() as client:
        repo = Repo(gun)
        init = repo.init(server_key(client, gun))
        published(client, gun, init)
        add = repo.add_target("v1", b"release one")
        published(client, gun, add)
    return Published(gun, repo, init, add)


def get_ok(client: httpx.Client, path: str, **options: Any) -> httpx.Response:
    response = client.get(path, **options)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response


def walk(client: httpx.Client, gun: str) -> dict[str, bytes]:
    """Read the repository as the Go client does (timestamp, then everything by the checksums the
    snapshot and timestamp record) and check every hash and length against the served bytes."""
    timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    snapshot_meta = json.loads(timestamp)["signed"]["meta"]["snapshot"]
    snapshot = get_ok(client, tuf(gun, f"snapshot.{meta_sha256_hex(timestamp, 'snapshot')}.json")).content
    assert snapshot_meta["length"] == len(snapshot)
    files = {"timestamp": timestamp, "snapshot": snapshot}
    for role, entry in json.loads(snapshot)["signed"]["meta"].items():
        data = get_ok(client, tuf(gun, f"{role}.{meta_sha256_hex(snapshot, role)}.json")).content
        assert sha256_hex(data) == meta_sha256_hex(snapshot, role)
        if "length" in entry:
            assert entry["length"] == len(data)
        files[role] = data
    assert get_ok(client, tuf(gun, "snapshot.json")).content == snapshot
    for role in files:
        if role not in ("timestamp", "snapshot"):
            assert get_ok(client, tuf(gun, f"{role}.json")).content == files[role], role
    return files


def assert_last_modified(response: httpx.Response) -> datetime:
    value = response.headers["last-modified"]
    assert value.endswith(" GMT"), value
    moment = parsedate_to_datetime(value)
    assert moment.tzinfo is not None
    assert abs(moment - datetime.now(UTC)) < timedelta(hours=1), value
    return moment


def assert_served(response: httpx.Response, data: bytes, cache_control: str) -> None:
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == TEXT
    assert response.headers["cache-control"] == cache_control
    assert "pragma" not in response.headers
    assert response.headers["etag"] == f'"{sha256_hex(data)}"'
    assert_last_modified(response)


# ------------------------------------------------------------------------------------------ reads


def test_ping(client: httpx.Client) -> None:
    response = client.get("/v2/")
    assert response.status_code == 200
    assert response.content == b"{}"
    assert response.headers["content-type"] == TEXT


def test_current_gets_serve_the_uploaded_bytes(client: httpx.Client, repository: Published) -> None:
    gun = repository.gun
    expected = {
        "root": repository.init["root"],
        "targets": repository.add["targets"],
        "snapshot": repository.add["snapshot"],
    }
    for role, data in expected.items():
        assert_served(client.get(tuf(gun, f"{role}.json")), data, CURRENT_CACHE)

    timestamp = client.get(tuf(gun, "timestamp.json"))
    assert_served(timestamp, timestamp.content, CURRENT_CACHE)
    assert version_of(timestamp.content) == 2
    assert signed_by(timestamp.content, "timestamp", server_key(client, gun))
    assert meta_sha256_hex(timestamp.content, "snapshot") == sha256_hex(expected["snapshot"])
    assert walk(client, gun)["targets"] == expected["targets"]


@pytest.mark.parametrize(
    ("role", "step", "version"),
    [
        ("root", "init", 1),
        ("targets", "init", 1),
        ("targets", "add", 2),
        ("snapshot", "init", 1),
        ("snapshot", "add", 2),
    ],
)
def test_consistent_gets_serve_the_exact_bytes(
    client: httpx.Client, repository: Published, role: str, step: str, version: int
) -> None:
    data = getattr(repository, step)[role]
    gun = repository.gun
    assert_served(client.get(tuf(gun, f"{role}.{sha256_hex(data)}.json")), data, CONSISTENT_CACHE)
    assert_served(client.get(tuf(gun, f"{version}.{role}.json")), data, CONSISTENT_CACHE)


def test_timestamps_are_served_by_version_and_checksum(client: httpx.Client, repository: Published) -> None:
    gun = repository.gun
    first = get_ok(client, tuf(gun, "1.timestamp.json"))
    second = get_ok(client, tuf(gun, "2.timestamp.json"))
    assert version_of(first.content) == 1
    assert version_of(second.content) == 2
    assert meta_sha256_hex(first.content, "snapshot") == sha256_hex(repository.init["snapshot"])
    assert_served(second, get_ok(client, tuf(gun, "timestamp.json")).content, CONSISTENT_CACHE)
    by_checksum = client.get(tuf(gun, f"timestamp.{sha256_hex(first.content)}.json"))
    assert_served(by_checksum, first.content, CONSISTENT_CACHE)


@pytest.mark.parametrize(
    "path",
    [
        "targets.{sha256}{sha256:.32}.json",  # 96 hex digits
        "targets.{sha256}{sha256}.json",  # 128 hex digits
        "0.root.json",
        "0.targets.json",
        "3.targets.json",
        "99999999999.root.json",
        "root.{targets_sha256}.json",  # checksum of another role
        "targets.{zero}.json",
        "targets/nope.json",
        "targets/nope.{sha256}.json",
        "1.targets/nope.json",
        "targets/releases/deeper.json",
    ],
)
def test_missing_metadata_is_404_metadata_not_found(
    client: httpx.Client, repository: Published, path: str
) -> None:
    targets_sha = sha256_hex(repository.add["targets"])
    tail = path.format(sha256=targets_sha, targets_sha256=targets_sha, zero="0" * 64)
    response = client.get(tuf(repository.gun, tail))
    assert_error(response, 404, "METADATA_NOT_FOUND", detail={})
    assert "cache-control" not in response.headers
    assert response.content == NOT_FOUND_BODY


@pytest.mark.parametrize(
    "tail",
    ["root.json", "targets.json", "snapshot.json", "timestamp.json", "1.root.json", f"root.{'a' * 64}.json"],
)
def test_get_on_an_empty_gun_is_the_exact_notary_404(client: httpx.Client, tail: str) -> None:
    response = client.get(tuf(f"http/nothing-here-{secrets.token_hex(3)}", tail))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.content == NOT_FOUND_BODY
    assert response.content == (FIXTURES / "error-404-GET.json").read_bytes().rstrip(b"\n") + b"\n"


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("PUT", ""),
        ("GET", ""),
        ("PATCH", "root.json"),
        ("POST", "root.json"),
        ("DELETE", "root.json"),
        ("GET", "root.key"),
        ("GET", "targets.key"),
        ("PUT", "timestamp.key"),
        ("GET", "nothing.json"),
    ],
)
def test_unrouted_requests_are_404_without_detail(
    client: httpx.Client, repository: Published, method: str, tail: str
) -> None:
    response = client.request(method, tuf(repository.gun, tail))
    error = assert_error(response, 404, "METADATA_NOT_FOUND")
    assert "detail" not in error
    assert get_ok(client, tuf(repository.gun, "root.json")).content == repository.init["root"]


def test_unclean_paths_are_redirected_to_the_clean_path(client: httpx.Client, repository: Published) -> None:
    response = client.get(f"/v2//{repository.gun}/_trust/tuf/root.json")
    assert response.status_code == 301
    assert response.headers["location"] == tuf(repository.gun, "root.json")


def test_last_modified_is_an_http_date_in_gmt(client: httpx.Client, repository: Published) -> None:
    gun = repository.gun
    for tail in ("root.json", "timestamp.json", "1.root.json", "2.targets.json"):
        assert_last_modified(get_ok(client, tuf(gun, tail)))


# --------------------------------------------------------------------------------- ETag and HEAD


@pytest.mark.parametrize("tail", ["root.json", "timestamp.json", "2.targets.json", "targets.{sha}.json"])
def test_if_none_match_with_the_etag_is_304_without_body(
    client: httpx.Client, repository: Published, tail: str
) -> None:
    path = tuf(repository.gun, tail.format(sha=sha256_hex(repository.add["targets"])))
    full = get_ok(client, path)
    etag = full.headers["etag"]
    assert etag == f'"{sha256_hex(full.content)}"'
    for condition in (etag, f"W/{etag}", f'"{"0" * 64}", {etag}', "*"):
        response = client.get(path, headers={"If-None-Match": condition})
        assert response.status_code == 304, condition
        assert response.content == b""
        assert response.headers["etag"] == etag
    other = client.get(path, headers={"If-None-Match": f'"{"0" * 64}"'})
    assert other.status_code == 200
    assert other.content == full.content


@pytest.mark.parametrize("tail", ["root.json", "timestamp.json", "1.root.json", "targets.{sha}.json"])
def test_head_answers_the_get_headers_without_a_body(
    client: httpx.Client, repository: Published, tail: str
) -> None:
    path = tuf(repository.gun, tail.format(sha=sha256_hex(repository.add["targets"])))
    get = get_ok(client, path)
    head = client.head(path)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "etag", "cache-control", "last-modified"):
        assert head.headers.get(name) == get.headers.get(name), name
    assert int(head.headers["content-length"]) == len(get.content)


def test_head_of_missing_metadata_is_404(client: httpx.Client, repository: Published) -> None:
    response = client.head(tuf(repository.gun, "targets/nope.json"))
    assert response.status_code == 404


def test_other_responses_carry_no_cache_headers(client: httpx.Client, repository: Published) -> None:
    for path in (
        tuf(repository.gun, "timestamp.key"),
        changefeed_path(repository.gun) + "?records=1",
        "/v2/_trust/changefeed?records=1",
    ):
        response = get_ok(client, path)
        assert "cache-control" not in response.headers, path
        assert response.headers["content-type"] == TEXT


def test_cache_max_ages_are_configurable(stack: NotaryStack) -> None:
    stack.write_config(caching={"max_age": {"current_metadata": 0, "consistent_metadata": 60}})
    stack.start_all()
    gun = "example.com/caching"
    with stack.client() as client:
        repo = new_repo(client, gun)
        for tail in ("root.json", "timestamp.json", "targets.json"):
            response = get_ok(client, tuf(gun, tail))
            assert response.headers["cache-control"] == "max-age=0, no-cache, no-store", tail
            assert response.headers["pragma"] == "no-cache"
        for tail in ("1.root.json", f"targets.{sha256_hex(repo.files['targets'])}.json"):
            response = get_ok(client, tuf(gun, tail))
            assert response.headers["cache-control"] == "public, max-age=60, s-maxage=60", tail
            assert "pragma" not in response.headers


# ------------------------------------------------------------------------------ pretty uploads


def test_pretty_printed_init_is_accepted_and_readable(client: httpx.Client, gun: str) -> None:
    root_key, targets_key, snapshot_key = Key.root_certificate(gun), Key.generate(), Key.generate()
    root = sign_file(
        root_signed(
            root_keys=[root_key],
            targets_keys=[targets_key],
            snapshot_keys=[snapshot_key],
            timestamp_keys=[server_key(client, gun)],
        ),
        [root_key],
        pretty=True,
    )
    targets = sign_file(targets_signed(targets={"v1": b"one"}), [targets_key], pretty=True)
    snapshot = sign_file(snapshot_signed({"root": root, "targets": targets}), [snapshot_key], pretty=True)
    published(client, gun, {"root": root, "targets": targets, "snapshot": snapshot})
    files = walk(client, gun)
    assert files["root"] == root
    assert files["targets"] == targets
    assert files["snapshot"] == snapshot
    assert meta_sha256_hex(files["timestamp"], "snapshot") == sha256_hex(snapshot)


@pytest.mark.parametrize("spelling", ["pretty", "nine-digit-expiry"])
def test_differently_spelled_targets_keep_the_repository_readable(
    client: httpx.Client, gun: str, spelling: str
) -> None:
    """notary hashes its own re-serialisation and bricks the repo (quirk 1); we hash the stored bytes."""
    repo = new_repo(client, gun, server_snapshot=True)
    if spelling == "pretty":
        targets = sign_file(
            targets_signed(targets={"v1": b"one"}, version=2), [repo.targets_key], pretty=True
        )
    else:
        signed = targets_signed(targets={"v1": b"one"}, version=2, expires="2031-05-06T07:08:09.100000000Z")
        targets = sign_file(signed, [repo.targets_key])
    published(client, gun, {"targets": targets})

    served_targets = get_ok(client, tuf(gun, "targets.json")).content
    served_snapshot = get_ok(client, tuf(gun, "snapshot.json")).content
    served_timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    assert served_targets == targets
    assert meta_sha256_hex(served_snapshot, "targets") == sha256_hex(served_targets)
    assert meta_sha256_hex(served_timestamp, "snapshot") == sha256_hex(served_snapshot)
    assert walk(client, gun)["targets"] == targets


def test_pretty_targets_with_a_client_snapshot_keep_the_repository_readable(
    client: httpx.Client, gun: str
) -> None:
    repo = new_repo(client, gun)
    targets = sign_file(targets_signed(targets={"v1": b"one"}, version=2), [repo.targets_key], pretty=True)
    assert repo.snapshot_key is not None
    snapshot = sign_file(
        snapshot_signed({"root": repo.files["root"], "targets": targets}, version=2), [repo.snapshot_key]
    )
    published(client, gun, {"targets": targets, "snapshot": snapshot})
    served_timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    assert meta_sha256_hex(served_timestamp, "snapshot") == sha256_hex(snapshot)
    files = walk(client, gun)
    assert files["targets"] == targets
    assert files["snapshot"] == snapshot


# ---------------------------------------------------------------------------------- publishing


def test_delegation_file_is_served_under_its_role_path(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    key = Key.generate()
    published(client, gun, repo.add_delegation("targets/releases", key))
    update = repo.publish_delegation_target("targets/releases", "v1", b"one")
    body, _ = multipart(update)
    assert b'filename="targets/releases"' in body
    published(client, gun, update)
    data = update["targets/releases"]
    assert_served(client.get(tuf(gun, "targets/releases.json")), data, CURRENT_CACHE)
    assert_served(client.get(tuf(gun, f"targets/releases.{sha256_hex(data)}.json")), data, CONSISTENT_CACHE)
    assert_served(client.get(tuf(gun, "1.targets/releases.json")), data, CONSISTENT_CACHE)
    assert walk(client, gun)["targets/releases"] == data


def test_same_role_twice_the_last_part_wins(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    update = repo.add_target("v1", b"one")
    wrong = sign_file(targets_signed(version=2), [Key.generate()])  # would fail validation
    published(client, gun, [("targets", wrong), *update.items()])
    assert get_ok(client, tuf(gun, "targets.json")).content == update["targets"]


@pytest.mark.parametrize(
    "odd_gun",
    ["Example.com/Upper/Case", "example.com/with space/app", "a/b/c/d/e/f", "docker.io/libr@ry/näme"],
)
def test_odd_guns_work_url_encoded(client: httpx.Client, odd_gun: str) -> None:
    odd_gun = f"{odd_gun}-{secrets.token_hex(2)}"
    repo = new_repo(client, odd_gun)
    published(client, odd_gun, repo.add_target("v1", b"one"))
    assert get_ok(client, tuf(odd_gun, "root.json")).content == repo.files["root"]
    assert walk(client, odd_gun)["targets"] == repo.files["targets"]
    feed = get_ok(client, changefeed_path(odd_gun), params={"records": "10"}).json()
    assert [record["GUN"] for record in feed["records"]] == [odd_gun, odd_gun]
    assert client.get(tuf(odd_gun.lower() + "x", "root.json")).status_code == 404


def test_empty_update_with_a_server_snapshot_key_re_signs_snapshot_and_timestamp(
    client: httpx.Client, gun: str
) -> None:
    new_repo(client, gun, server_snapshot=True)
    before = walk(client, gun)
    published(client, gun, {})
    after = walk(client, gun)
    assert version_of(after["snapshot"]) == version_of(before["snapshot"]) + 1
    assert version_of(after["timestamp"]) == version_of(before["timestamp"]) + 1
    assert after["root"] == before["root"]
    assert after["targets"] == before["targets"]


def test_reads_on_fresh_connections_see_each_publish_at_once(client: httpx.Client, gun: str) -> None:
    """The Go client closes every connection, so consecutive requests may reach different API workers;
    none of them may serve what the last acknowledged publish replaced."""
    repo = new_repo(client, gun, server_snapshot=True)
    fresh = {"Connection": "close"}
    for step in range(2, 6):
        for _ in range(4):  # warm every worker's cache with the current state
            get_ok(client, tuf(gun, "timestamp.json"), headers=fresh)
        published(client, gun, repo.add_target(f"v{step}", b"data"))
        for _ in range(6):
            served = get_ok(client, tuf(gun, "timestamp.json"), headers=fresh).content
            assert version_of(served) == step
            targets = get_ok(client, tuf(gun, "targets.json"), headers=fresh).content
            assert targets == repo.files["targets"]


# ------------------------------------------------------------------------------------------ delete


def test_delete_removes_exactly_that_gun_and_it_can_be_recreated(client: httpx.Client) -> None:
    base = f"http/del-{secrets.token_hex(3)}"
    victim, neighbour = f"{base}/b", f"{base}/bc"
    old = new_repo(client, victim)
    published(client, victim, old.add_target("v1", b"one"))
    kept = new_repo(client, neighbour)
    kept_files = walk(client, neighbour)

    response = client.delete(tuf(victim))
    assert response.status_code == 200
    assert response.content == b""

    for tail in (
        "root.json",
        "targets.json",
        "snapshot.json",
        "timestamp.json",
        "1.root.json",
        "2.targets.json",
        "1.timestamp.json",
        f"root.{sha256_hex(old.files['root'])}.json",
    ):
        assert_error(
            client.get(tuf(victim, tail), headers={"Connection": "close"}), 404, "METADATA_NOT_FOUND"
        )
    assert walk(client, neighbour) == kept_files
    assert kept.files["root"] == kept_files["root"]

    feed = get_ok(client, changefeed_path(victim), params={"records": "10"}).json()["records"]
    assert [(r["Category"], r["Version"], r["SHA256"]) for r in feed][-1] == ("deletion", 0, "")

    fresh = Repo(victim)  # a new root key: trust on first use starts over
    assert fresh.root_key.key_id != old.root_key.key_id
    published(client, victim, fresh.init(server_key(client, victim)))
    assert get_ok(client, tuf(victim, "root.json")).content == fresh.files["root"]
    assert get_ok(client, tuf(victim, "1.root.json")).content == fresh.files["root"]
    assert version_of(get_ok(client, tuf(victim, "timestamp.json")).content) == 1
    walk(client, victim)


def test_deleted_gun_accepts_its_old_files_again(client: httpx.Client, gun: str) -> None:
    repo = Repo(gun)
    init = repo.init(server_key(client, gun))
    published(client, gun, init)
    assert client.delete(tuf(gun)).status_code == 200
    published(client, gun, init)
    assert walk(client, gun)["root"] == init["root"]


def test_delete_of_an_empty_gun_is_200_and_writes_no_change(client: httpx.Client, gun: str) -> None:
    before = get_ok(client, "/v2/_trust/changefeed", params={"records": "-1", "change_id": "-1"}).json()
    response = client.delete(tuf(gun))
    assert response.status_code == 200
    assert response.content == b""
    after = get_ok(client, "/v2/_trust/changefeed", params={"records": "-1", "change_id": "-1"}).json()
    assert after == before
    assert get_ok(client, changefeed_path(gun), params={"records": "10"}).json() == {
        "count": 0,
        "records": [],
    }


# ------------------------------------------------------------------------------------------- async


def _finished_job(client: httpx.Client, location: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = get_ok(client, location).json()
        return job if job["state"] in ("succeeded", "failed") else None

    result: dict[str, Any] = wait_until(finished, 60, what="the publish job")
    return result


def test_prefer_respond_async_answers_202_and_the_job_reports_the_versions(
    client: httpx.Client, gun: str
) -> None:
    repo = Repo(gun)
    response = publish(client, gun, repo.init(server_key(client, gun)), headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert re.fullmatch(r"/v1/jobs/[0-9a-f]{32}", location)
    assert response.headers["preference-applied"] == "respond-async"

    job = _finished_job(client, location)
    assert job["state"] == "succeeded", job
    assert job["gun"] == gun
    assert job["result"]["published"] == {"root": 1, "snapshot": 1, "targets": 1, "timestamp": 1}
    assert job["result"]["timestamp"]["version"] == 1
    timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    assert job["result"]["timestamp"]["sha256"] == sha256_hex(timestamp)

    response = publish(client, gun, repo.add_target("v1", b"one"), headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    job = _finished_job(client, response.headers["location"])
    assert job["result"]["published"] == {"snapshot": 2, "targets": 2, "timestamp": 2}
    assert job["result"]["timestamp"]["version"] == 2


def test_prefer_respond_async_reports_a_refused_update_in_the_job(client: httpx.Client, gun: str) -> None:
    targets = sign_file(targets_signed(), [Key.generate()])
    response = publish(client, gun, {"targets": targets}, headers={"Prefer": "respond-async"})
    assert response.status_code == 202
    job = _finished_job(client, response.headers["location"])
    assert job["state"] == "failed"
    assert job["error"]["code"] == "INVALID_UPDATE"
    assert job["error"]["detail"]["Name"] == "ErrValidation"
    assert client.get(tuf(gun, "root.json")).status_code == 404


# ------------------------------------------------------------------------------- key rotations


def test_rotated_timestamp_key_signs_only_once_a_root_lists_it(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    old_key = server_key(client, gun)
    rotated = client.post(tuf(gun, "timestamp.key"))
    assert rotated.status_code == 200
    new_key = Key.from_public(rotated.json())
    assert new_key.key_id != old_key.key_id

    published(client, gun, repo.add_target("v1", b"one"))  # root still lists the old key
    timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    assert signed_by(timestamp, "timestamp", old_key)

    published(client, gun, repo.server_timestamp(new_key))
    timestamp = get_ok(client, tuf(gun, "timestamp.json")).content
    assert version_of(timestamp) == 3
    assert signed_by(timestamp, "timestamp", new_key)
    assert not signed_by(timestamp, "timestamp", old_key)
    walk(client, gun)


def test_snapshot_key_moves_to_the_server_and_back(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    server_snapshot = Key.from_public(client.post(tuf(gun, "snapshot.key")).json())
    published(client, gun, repo.server_snapshot(server_snapshot))  # root 2 only
    published(client, gun, repo.add_target("v1", b"one"))  # targets only: the server signs the snapshot
    snapshot = get_ok(client, tuf(gun, "snapshot.json")).content
    assert signed_by(snapshot, "snapshot", server_snapshot)
    assert version_of(snapshot) == 3

    update = repo.client_snapshot(snapshot_version=version_of(snapshot) + 1)  # root 3 + client snapshot
    assert set(update) == {"root", "snapshot"}
    published(client, gun, update)
    assert get_ok(client, tuf(gun, "snapshot.json")).content == update["snapshot"]
    published(client, gun, repo.add_target("v2", b"two"))  # targets + client snapshot again
    response = publish(client, gun, {"targets": repo.add_target("v3", b"three")["targets"]})
    assert_error(response, 400, "INVALID_UPDATE")
    assert response.json()["errors"][0]["detail"]["Name"] == "ErrBadHierarchy"
    walk(client, gun)


# ---------------------------------------------------------------------------------- concurrency


def test_concurrent_publishes_of_the_same_version_store_exactly_one(server: NotaryStack, gun: str) -> None:
    with server.client() as client:
        repo = new_repo(client, gun, server_snapshot=True)
        feed_before = get_ok(client, changefeed_path(gun), params={"records": "100"}).json()["count"]
    updates = []
    for number in range(6):
        updates.append(repo.add_target(f"v{number}", b"data"))
        repo.versions["targets"] -= 1  # every one is targets version 2
        del repo.targets["targets"][f"v{number}"]

    def send(files: dict[str, bytes]) -> httpx.Response:
        with server.client() as own:
            return publish(own, gun, files)

    with ThreadPoolExecutor(len(updates)) as pool:
        responses = list(pool.map(send, updates))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * (len(updates) - 1), [r.text for r in responses]
    for response in responses:
        if response.status_code == 400:
            assert_error(response, 400, "VERSION", detail={})
    winner = updates[[r.status_code for r in responses].index(200)]
    with server.client() as client:
        files = walk(client, gun)
        assert files["targets"] == winner["targets"]
        feed = get_ok(client, changefeed_path(gun), params={"records": "100"}).json()
        assert feed["count"] == feed_before + 1
