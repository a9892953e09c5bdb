"""Bulk publish requests (notary.bulk): the stored byte form of JSON files, tar entry names, limits, and which
problems fail the whole request and which fail one repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notary.bulk import (
    BulkCollector,
    BulkLimits,
    BulkRepository,
    archive_entry,
    collect_json,
    json_file_bytes,
)
from notary.errors import (
    InvalidGunError,
    InvalidRoleError,
    MalformedJSONError,
    MalformedUploadError,
    PayloadTooLargeError,
    TooManyRepositoriesError,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notary"
LIMITS = BulkLimits(max_repositories=3, max_file_bytes=100, gun_prefixes=("ok/",))


def collector() -> BulkCollector:
    return BulkCollector(LIMITS)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("upload-*.json")), ids=lambda path: path.name)
def test_a_file_given_as_an_object_is_stored_as_the_go_client_uploads_it(path: Path) -> None:
    uploaded = path.read_bytes()
    assert json_file_bytes(json.loads(uploaded)) == uploaded


def test_a_file_given_as_a_string_is_stored_as_its_exact_bytes() -> None:
    text = '{ "signed" : {"_type": "Targets"},\n "signatures": [] , "é": 1}'
    assert json_file_bytes(text) == text.encode("utf-8")


@pytest.mark.parametrize("value", [1, None, [1], {"signed": {"version": 1.5}}, "\ud800"])
def test_values_with_no_file_bytes_are_malformed_json(value: Any) -> None:
    with pytest.raises(MalformedJSONError):
        json_file_bytes(value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("example.com/app/_trust/tuf/root.json", ("example.com/app", "root.json")),
        ("./example.com/app/_trust/tuf/targets/releases.json", ("example.com/app", "targets/releases.json")),
        ("my_trust/tuf/app/_trust/tuf/snapshot.json", ("my_trust/tuf/app", "snapshot.json")),
    ],
)
def test_archive_entries_name_gun_and_role(name: str, expected: tuple[str, str]) -> None:
    assert archive_entry(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "example.com/app/root.json",
        "example.com/app/_trust/tuf/root",
        "a/_trust/tuf/_trust/tuf/root.json",
        "a/_trust/tuf/b/_trust/tuf/root.json",
    ],
)
def test_archive_entries_without_exactly_one_separator_are_refused(name: str) -> None:
    with pytest.raises(MalformedUploadError):
        archive_entry(name)


@pytest.mark.parametrize("gun", ["", "ok/a//b", "ok/./b", "ok/../b", "ok/b/", "/ok/b", "ok/*", "ok/a\nb"])
def test_guns_no_path_could_address_fail_their_repository(gun: str) -> None:
    requests = collector()
    requests.repository(gun)
    [repository] = requests.result()
    assert isinstance(repository.error, InvalidGunError)


def test_a_gun_longer_than_any_stored_one_refuses_the_request() -> None:
    requests = collector()
    requests.repository("ok/" + "x" * 252)
    with pytest.raises(MalformedUploadError):
        requests.repository("ok/" + "x" * 253)


def test_guns_outside_the_prefixes_fail_with_notarys_detail() -> None:
    requests = collector()
    requests.repository("elsewhere/app")
    requests.repository("ok/app")
    outside, inside = requests.result()
    assert isinstance(outside.error, InvalidGunError)
    assert outside.error.detail == "Require GUNs with prefix: [ok/]"
    assert inside.error is None


def test_invalid_role_fails_the_repository_and_keeps_no_files() -> None:
    requests = collector()
    requests.repository("ok/app")
    requests.file("ok/app", "root.json", b"{}")
    requests.file("ok/app", "targets/BAD", b"{}")
    [repository] = requests.result()
    assert isinstance(repository.error, InvalidRoleError)
    assert repository.error.detail == "targets/BAD"
    assert repository.files == {}


def test_the_same_role_twice_keeps_the_last_as_a_single_post_does() -> None:
    requests = collector()
    requests.repository("ok/app")
    requests.file("ok/app", "root.json", b"first")
    requests.file("ok/app", "root", b"second")
    assert requests.result()[0].files == {"root": b"second"}


def test_limits_refuse_the_whole_request() -> None:
    requests = collector()
    for index in range(3):
        requests.repository(f"ok/{index}")
    with pytest.raises(TooManyRepositoriesError):
        requests.repository("ok/3")
    with pytest.raises(PayloadTooLargeError):
        requests.file("ok/0", "root", b"x" * 101)
    requests.file("ok/0", "root", b"x" * 100)


def test_too_many_files_in_one_repository_is_refused() -> None:
    requests = BulkCollector(BulkLimits(max_repositories=1, max_file_bytes=10))
    requests.repository("ok/app")
    for index in range(256):
        requests.file("ok/app", f"targets/r{index}", b"{}")
    requests.file("ok/app", "targets/r0", b"{}")  # replacing a role adds none
    with pytest.raises(PayloadTooLargeError):
        requests.file("ok/app", "targets/r256", b"{}")


def test_a_tar_gun_may_continue_but_a_json_gun_may_not_repeat() -> None:
    requests = collector()
    requests.repository("ok/app", repeatable=True)
    requests.repository("ok/app", repeatable=True)
    with pytest.raises(MalformedUploadError):
        requests.repository("ok/app")


def test_collect_json_reads_repositories_in_order_with_their_failures() -> None:
    requests = collector()
    document = {
        "repositories": [
            {"gun": "ok/b", "files": {"root": "{}", "targets": {"signed": {}, "signatures": []}}},
            {"gun": "ok/a", "files": {"root": 5}},
        ],
        "callback_url": "https://example.com/hook",
    }
    assert collect_json(document, requests) == "https://example.com/hook"
    first, second = requests.result()
    assert (first.gun, first.error) == ("ok/b", None)
    assert first.files == {"root": b"{}", "targets": b'{"signed":{},"signatures":[]}'}
    assert (second.gun, type(second.error)) == ("ok/a", MalformedJSONError)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"repositories": {}},
        {"repositories": [], "other": 1},
        {"repositories": ["ok/a"]},
        {"repositories": [{"gun": "ok/a"}]},
        {"repositories": [{"gun": "ok/a", "files": {}, "extra": True}]},
        {"repositories": [{"gun": "ok/a", "files": {}}], "callback_url": 5},
        {"repositories": []},
    ],
)
def test_malformed_json_requests_are_refused(document: Any) -> None:
    with pytest.raises(MalformedUploadError):
        read_json(document)


def read_json(document: Any) -> list[BulkRepository]:
    requests = collector()
    collect_json(document, requests)
    return requests.result()
