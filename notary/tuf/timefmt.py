"""Go's RFC 3339 time text, as notary writes ``expires`` and the changefeed writes ``CreatedAt``.

Go formats with ``time.RFC3339Nano``: UTC as ``Z``, the fraction trimmed of trailing zeros and left out
entirely when zero (``2036-11-18T20:53:00.814392562Z``, ``...01.10572217Z``, ``...00Z``). Metadata we
sign must use the same text so that Go clients and our own canonical bytes agree; metadata we receive
carries up to nine fractional digits, of which Python keeps six.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["format_go_time", "parse_go_time"]

# re.ASCII: without it \d also matches non-ASCII digits such as "٣", which Go would refuse.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def format_go_time(moment: datetime) -> str:
    """Format an aware datetime as Go's RFC3339Nano in UTC.

    Naive datetimes are refused: Python would read them as local time, a silent error in an expiry.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("format_go_time needs a timezone-aware datetime")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{moment!r} is out of range in UTC") from exc
    text = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_go_time(text: str) -> datetime:
    """Parse RFC 3339 with 0-9 fractional digits and ``Z`` or ``±hh:mm``; return an aware UTC datetime.

    Digits beyond microseconds are truncated (not rounded), so a parsed time never lies after the
    instant written, which keeps expiry checks on the safe side.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a str time, got {type(text).__name__}")
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_hour, off_minute = match.groups()
    microsecond = int((fraction or "").ljust(6, "0")[:6])
    if zulu:
        zone = UTC
    else:
        if int(off_hour) > 23 or int(off_minute) > 59:
            raise ValueError(f"time zone offset out of range: {text!r}")
        offset = timedelta(hours=int(off_hour), minutes=int(off_minute))
        zone = timezone(-offset if sign == "-" else offset)
    try:
        # datetime() checks the calendar and clock ranges (and refuses a leap second, as Go does).
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), microsecond, tzinfo=zone
        )
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"time out of range: {text!r}") from exc
    except ValueError as exc:
        raise ValueError(f"invalid RFC 3339 time {text!r}: {exc}") from exc
