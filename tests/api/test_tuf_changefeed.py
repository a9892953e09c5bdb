"""The changefeed (contract §2.8): parameters, paging in both directions, record shape, and that every
update record names the timestamp served at that version."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.tuf_helpers import (
    TEXT,
    assert_error,
    changefeed_path,
    new_repo,
    published,
    running_stack,
    sha256_hex,
    tuf,
)
from tests.support.processes import NotaryStack

GLOBAL = "/v2/_trust/changefeed"
FIELDS = ["ID", "CreatedAt", "GUN", "Version", "SHA256", "Category"]
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
ONE, TWO, BULK = "feed.example.com/one", "feed.example.com/two", "feed.example.com/bulk"
BULK_UPDATES = 101


@dataclass
class Feed:
    """What the module fixture published: per GUN, the sha256 of the timestamp served after each publish."""

    timestamps: dict[str, list[str]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    with running_stack(tmp_path_factory.mktemp("tuf-changefeed")) as stack:
        yield stack


def _served_timestamp(client: httpx.Client, gun: str) -> str:
    response = client.get(tuf(gun, "timestamp.json"))
    assert response.status_code == 200
    return sha256_hex(response.content)


@pytest.fixture(scope="module")
def feed(server: NotaryStack) -> Feed:
    """ONE: 3 updates then a deletion, interleaved with TWO: 2 updates; then BULK: 1 + 101 updates."""
    timestamps: dict[str, list[str]] = {ONE: [], TWO: [], BULK: []}
    with server.client() as client:
        one, two = new_repo(client, ONE), None
        timestamps[ONE].append(_served_timestamp(client, ONE))
        two = new_repo(client, TWO)
        timestamps[TWO].append(_served_timestamp(client, TWO))
        published(client, ONE, one.add_target("v1", b"one"))
        timestamps[ONE].append(_served_timestamp(client, ONE))
        published(client, TWO, two.add_target("v1", b"two"))
        timestamps[TWO].append(_served_timestamp(client, TWO))
        published(client, ONE, one.add_target("v2", b"one again"))
        timestamps[ONE].append(_served_timestamp(client, ONE))
        assert client.delete(tuf(ONE)).status_code == 200

        bulk = new_repo(client, BULK, server_snapshot=True)
        timestamps[BULK].append(_served_timestamp(client, BULK))
        for number in range(BULK_UPDATES):
            published(client, BULK, bulk.add_target(f"t{number}", b"x"))
            timestamps[BULK].append(_served_timestamp(client, BULK))
    return Feed(timestamps)


def get_feed(client: httpx.Client, path: str = GLOBAL, **params: str) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == TEXT
    document = response.json()
    assert list(document) == ["count", "records"]
    assert document["count"] == len(document["records"])
    records: list[dict[str, Any]] = document["records"]
    return records


def everything(client: httpx.Client, gun: str | None = None) -> list[dict[str, Any]]:
    return get_feed(client, changefeed_path(gun), records="100000")


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [int(record["ID"]) for record in records]


# -------------------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("path", [GLOBAL, changefeed_path(TWO)])
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"records": ""},
        {"records": "abc"},
        {"records": "1.5"},
        {"records": "2147483648"},
        {"change_id": "1"},
    ],
    ids=["missing", "empty", "word", "float", "above-int32", "only-change-id"],
)
def test_bad_records_is_invalid_parameters_with_a_string_detail(
    client: httpx.Client, feed: Feed, path: str, query: dict[str, str]
) -> None:
    error = assert_error(client.get(path, params=query), 400, "INVALID_PARAMETERS")
    assert isinstance(error["detail"], str)


@pytest.mark.parametrize("path", [GLOBAL, changefeed_path(TWO)])
@pytest.mark.parametrize("change_id", ["abc", "1.5", "0x10"])
def test_bad_change_id_is_invalid_parameters_with_an_empty_detail(
    client: httpx.Client, feed: Feed, path: str, change_id: str
) -> None:
    response = client.get(path, params={"records": "10", "change_id": change_id})
    assert_error(response, 400, "INVALID_PARAMETERS", detail={})


def test_records_zero_means_the_default_of_100(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    assert len(full) > 100
    assert get_feed(client, records="0") == full[:100]
    assert get_feed(client, records="0", change_id=full[2]["ID"]) == full[3:103]


# -------------------------------------------------------------------------------------- the records


def test_records_have_notarys_fields_and_types(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    for record in full:
        assert list(record) == FIELDS
        assert isinstance(record["ID"], str)
        assert record["ID"].isdigit()
        assert CREATED_AT.match(record["CreatedAt"]), record["CreatedAt"]
        assert isinstance(record["Version"], int)
        assert record["Category"] in ("update", "deletion")
    assert ids(full) == sorted(ids(full)), "oldest first"
    assert len(set(ids(full))) == len(full)


def test_updates_and_the_deletion_in_order(client: httpx.Client, feed: Feed) -> None:
    mine = [r for r in everything(client) if r["GUN"] in (ONE, TWO)]
    assert [(r["GUN"], r["Category"], r["Version"]) for r in mine] == [
        (ONE, "update", 1),
        (TWO, "update", 1),
        (ONE, "update", 2),
        (TWO, "update", 2),
        (ONE, "update", 3),
        (ONE, "deletion", 0),
    ]
    deletion = mine[-1]
    assert deletion["SHA256"] == ""
    updates = [r for r in mine if r["Category"] == "update"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["SHA256"]) for r in updates)


def test_update_sha256_is_the_timestamp_served_at_that_version(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    for gun, served in feed.timestamps.items():
        updates = [r for r in full if r["GUN"] == gun and r["Category"] == "update"]
        assert [r["Version"] for r in updates] == list(range(1, len(served) + 1))
        assert [r["SHA256"] for r in updates] == served, gun
    for record in (r for r in full if r["GUN"] in (TWO, BULK)):
        by_version = client.get(tuf(record["GUN"], f"{record['Version']}.timestamp.json"))
        assert by_version.status_code == 200
        assert sha256_hex(by_version.content) == record["SHA256"]


# ------------------------------------------------------------------------------------------ paging


def test_change_id_is_exclusive(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    for index in (0, 3, 50):
        page = get_feed(client, records="5", change_id=full[index]["ID"])
        assert page == full[index + 1 : index + 6]
    assert get_feed(client, records="5", change_id="0") == full[:5]
    assert get_feed(client, records="5") == full[:5]
    assert get_feed(client, records="5", change_id=full[-1]["ID"]) == []


def test_change_id_minus_one_starts_from_the_newest(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    assert get_feed(client, records="2", change_id="-1") == full[-2:]
    assert get_feed(client, records="-2", change_id="-1") == full[-2:]
    assert get_feed(client, records="1", change_id="-1") == full[-1:]


def test_negative_records_read_backwards_from_change_id(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    assert get_feed(client, records="-3", change_id=full[10]["ID"]) == full[7:10]
    assert get_feed(client, records="-3", change_id=full[1]["ID"]) == full[:1]
    assert get_feed(client, records="-5", change_id=full[5]["ID"]) == full[:5]


def test_the_per_gun_feed_filters_by_gun(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    for gun in (ONE, TWO, BULK):
        own = [r for r in full if r["GUN"] == gun]
        assert everything(client, gun) == own
        path = changefeed_path(gun)
        assert get_feed(client, path, records="2", change_id="-1") == own[-2:]
        assert get_feed(client, path, records="2", change_id=own[0]["ID"]) == own[1:3]
        assert get_feed(client, path, records="-1", change_id=own[-1]["ID"]) == own[-2:-1]
    assert get_feed(client, changefeed_path("feed.example.com/none"), records="10") == []
    one = everything(client, ONE)
    assert [r["Category"] for r in one] == ["update", "update", "update", "deletion"]


def test_negative_records_without_change_id_reads_back_from_the_newest(
    client: httpx.Client, feed: Feed
) -> None:
    full = everything(client)
    assert get_feed(client, records="-2") == full[-2:]


def test_any_negative_change_id_starts_from_the_newest(client: httpx.Client, feed: Feed) -> None:
    full = everything(client)
    assert get_feed(client, records="2", change_id="-5") == full[-2:]


def test_change_id_outside_int32_is_invalid_parameters(client: httpx.Client, feed: Feed) -> None:
    response = client.get(GLOBAL, params={"records": "10", "change_id": "2147483648"})
    assert_error(response, 400, "INVALID_PARAMETERS", detail={})
