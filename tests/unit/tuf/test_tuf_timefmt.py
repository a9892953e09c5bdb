"""Go RFC3339Nano text: what notary writes into ``expires`` and what we must read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from notary.tuf.timefmt import format_go_time, parse_go_time

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notary"


def _fixture_expiries() -> list[str]:
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_bytes())
        if isinstance(data, dict) and "signed" in data:
            found.append(data["signed"]["expires"])
    return found


EXPIRIES = _fixture_expiries()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2036, 11, 18, 20, 53, 0, 814392, tzinfo=UTC), "2036-11-18T20:53:00.814392Z"),
        (datetime(2029, 11, 20, 20, 53, 1, 105720, tzinfo=UTC), "2029-11-20T20:53:01.10572Z"),
        (datetime(2029, 11, 20, 20, 53, 1, 100000, tzinfo=UTC), "2029-11-20T20:53:01.1Z"),
        (datetime(2029, 11, 20, 20, 53, 1, 10, tzinfo=UTC), "2029-11-20T20:53:01.00001Z"),
        (datetime(2026, 12, 5, 0, 0, 0, tzinfo=UTC), "2026-12-05T00:00:00Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
        # other zones are converted to UTC, as Go's UTC().Format(RFC3339Nano)
        (datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))), "2025-12-31T23:30:00Z"),
        (
            datetime(2026, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2026-01-01T07:00:00Z",
        ),
    ],
)
def test_format_go_time(moment: datetime, expected: str) -> None:
    assert format_go_time(moment) == expected


def test_format_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        format_go_time(datetime(2026, 1, 1))  # naive on purpose


def test_format_out_of_range_in_utc_is_value_error() -> None:
    with pytest.raises(ValueError):
        format_go_time(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2036-11-18T20:53:00.814392562Z", datetime(2036, 11, 18, 20, 53, 0, 814392, tzinfo=UTC)),
        ("2029-11-20T20:53:01.10572217Z", datetime(2029, 11, 20, 20, 53, 1, 105722, tzinfo=UTC)),
        # truncated, not rounded: never later than the instant written
        ("2029-11-20T20:53:01.999999999Z", datetime(2029, 11, 20, 20, 53, 1, 999999, tzinfo=UTC)),
        ("2029-11-20T20:53:01.5Z", datetime(2029, 11, 20, 20, 53, 1, 500000, tzinfo=UTC)),
        ("2029-11-20T20:53:01Z", datetime(2029, 11, 20, 20, 53, 1, tzinfo=UTC)),
        ("2029-11-20T20:53:01.000000000Z", datetime(2029, 11, 20, 20, 53, 1, tzinfo=UTC)),
        ("2026-01-01T01:30:00+02:00", datetime(2025, 12, 31, 23, 30, tzinfo=UTC)),
        ("2026-01-01T01:30:00.25-05:30", datetime(2026, 1, 1, 7, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-01T00:00:00-00:00", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_go_time(text: str, expected: datetime) -> None:
    parsed = parse_go_time(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2036-11-18",
        "2036-11-18 20:53:00Z",
        "2036-11-18t20:53:00Z",
        "2036-11-18T20:53:00z",
        "2036-11-18T20:53:00",
        "2036-11-18T20:53:00.Z",
        "2036-11-18T20:53:00.1234567890Z",
        "2036-11-18T20:53Z",
        "2036-11-18T24:00:00Z",
        "2036-11-18T23:60:00Z",
        "2036-11-18T23:59:60Z",
        "2036-13-18T20:53:00Z",
        "2023-02-29T20:53:00Z",
        "2036-11-18T20:53:00+0200",
        "2036-11-18T20:53:00+24:00",
        "2036-11-18T20:53:00+02:60",
        "2036-11-18T20:53:00Z\n",
        " 2036-11-18T20:53:00Z",
        "2036-11-18T20:53:00ZZ",
        "\uff12036-11-18T20:53:00Z",  # fullwidth digit two
        "2036-11-18T20:53:0\u0663Z",  # arabic-indic digit three
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "+2036-11-18T20:53:00Z",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_time(text)


def test_parse_rejects_non_str() -> None:
    with pytest.raises(ValueError):
        parse_go_time(b"2036-11-18T20:53:00Z")  # type: ignore[arg-type]


def _truncate_fraction(text: str) -> str:
    """What format(parse(x)) must give: the fraction cut to 6 digits, then trailing zeros trimmed."""
    body = text.removesuffix("Z")
    if "." not in body:
        return text
    head, fraction = body.split(".")
    fraction = fraction[:6].rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def test_fixture_expiries_round_trip() -> None:
    assert len(EXPIRIES) >= 25
    # the fixtures do contain 9-digit and trimmed (8-digit) fractions
    digits = {len(text.removesuffix("Z").partition(".")[2]) for text in EXPIRIES}
    assert {9, 8} <= digits
    for text in EXPIRIES:
        parsed = parse_go_time(text)
        assert format_go_time(parsed) == _truncate_fraction(text)
        assert parse_go_time(format_go_time(parsed)) == parsed


@pytest.mark.parametrize("microsecond", [0, 1, 10, 999999, 120000, 814392, 500])
def test_format_parse_round_trip(microsecond: int) -> None:
    moment = datetime(2030, 6, 15, 12, 34, 56, microsecond, tzinfo=UTC)
    text = format_go_time(moment)
    assert parse_go_time(text) == moment
    fraction = text.removesuffix("Z").partition(".")[2]
    assert not fraction.endswith("0")
    assert (fraction == "") == (microsecond == 0)
