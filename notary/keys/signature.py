"""The request signature ``Rapid7-HMAC-V1-SHA256``, as Rapid7 Turnstile implements it (shared-keys.md §5).

``Authorization: Rapid7-HMAC-V1-SHA256 <base64(identity + ":" + signature)>`` where

    signature = base64(HMAC-SHA256(key = secret as UTF-8 bytes, msg = challenge))

and the challenge is five lines, each ending in ``\\n``::

    <METHOD> <request-uri>
    <host>
    <date-ms>
    <identity>
    <digest-header-value>

The secret is used as text (it is *not* base64-decoded); the request-uri is the raw request target, neither
decoded nor reordered; the host is the Host header as received (with its port); ``date-ms`` is the parsed Date
header in decimal epoch milliseconds; the digest is the whole ``Digest`` header exactly as received. The
challenge is UTF-8, as in Turnstile's ``signer.update(..., 'utf8')``.

``verify`` runs the checks in the order of the contract and raises ``SignatureError`` with a stable ``code``
and HTTP ``status``. No message ever contains a secret or the expected signature.

The scheme itself does not care what the identity looks like (Turnstile's identities are opaque strings);
whether it is one of ours is the business of ``lookup``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, cast

SCHEME: Final = "Rapid7-HMAC-V1-SHA256"
DIGEST_PREFIX: Final = "SHA256="
EMPTY_BODY_DIGEST: Final = "SHA256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

# The stable error codes (the API puts them in its answers).
MISSING_HEADER: Final = "MISSING_HEADER"
MALFORMED_REQUEST: Final = "MALFORMED_REQUEST"
INVALID_DATE: Final = "INVALID_DATE"
DATE_SKEW: Final = "DATE_SKEW"
DIGEST_MISMATCH: Final = "DIGEST_MISMATCH"
MALFORMED_AUTHORIZATION: Final = "MALFORMED_AUTHORIZATION"
UNKNOWN_KEY: Final = "UNKNOWN_KEY"
INVALID_SIGNATURE: Final = "INVALID_SIGNATURE"

STATUS_BY_CODE: Final[Mapping[str, int]] = {
    MISSING_HEADER: 400,
    MALFORMED_REQUEST: 400,
    INVALID_DATE: 400,
    DATE_SKEW: 401,
    DIGEST_MISMATCH: 401,
    MALFORMED_AUTHORIZATION: 400,
    UNKNOWN_KEY: 401,
    INVALID_SIGNATURE: 401,
}

_DEFAULT_MESSAGES: Final[Mapping[str, str]] = {
    MISSING_HEADER: "Missing header",
    MALFORMED_REQUEST: "Malformed request",
    INVALID_DATE: "Invalid Date header",
    DATE_SKEW: "Request date skew is too large",
    DIGEST_MISMATCH: "Digest header does not match request body",
    MALFORMED_AUTHORIZATION: "Invalid Authorization header",
    UNKNOWN_KEY: "Unknown key",
    INVALID_SIGNATURE: "Invalid authentication factors",
}

# The headers every signed request carries, in the order they are checked (and named when missing).
REQUIRED_HEADERS: Final = ("authorization", "date", "digest", "host")


class SignatureError(Exception):
    """A request that does not verify. ``code`` is stable, ``status`` the HTTP status to answer with."""

    code: str
    status: int
    message: str

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in STATUS_BY_CODE:
            raise ValueError(f"unknown signature error code {code!r}")
        self.code = code
        self.status = STATUS_BY_CODE[code]
        self.message = _DEFAULT_MESSAGES[code] if message is None else message
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"SignatureError({self.code!r}, {self.message!r})"


# The fields a server forwards to POST /v1/verify, named as SignedRequest names them.
FORWARDED_FIELDS: Final = ("authorization", "method", "uri", "host", "date", "digest")


@dataclass(frozen=True)
class SignedRequest:
    """What a verifier received, raw: any header may be None when it was missing."""

    method: str | None
    uri: str | None
    host: str | None
    date: str | None
    digest: str | None
    authorization: str | None

    @classmethod
    def from_headers(cls, method: str | None, uri: str | None, headers: Mapping[str, str]) -> SignedRequest:
        """Pick Host, Date, Digest and Authorization out of ``headers`` (names matched case-insensitively)."""
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            method=method,
            uri=uri,
            host=lowered.get("host"),
            date=lowered.get("date"),
            digest=lowered.get("digest"),
            authorization=lowered.get("authorization"),
        )

    def forwarded(self) -> dict[str, str | None]:
        """The request as a server forwards it to ``POST /v1/verify``."""
        return {name: getattr(self, name) for name in FORWARDED_FIELDS}


# --- the primitives -------------------------------------------------------------------------------------


def body_digest(body: bytes) -> str:
    """The Digest header value for ``body``: ``SHA256=<base64 sha256(body)>``."""
    return DIGEST_PREFIX + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


# A line break anywhere would let a field spill into the next line of the challenge; a space in the method
# or the URI would make "<METHOD> <request-uri>" ambiguous. Neither can come off the wire.
_LINE_BREAK = re.compile(r"[\r\n]")
_SPACE_OR_LINE_BREAK = re.compile(r"[\s]")


def challenge(method: str, request_uri: str, host: str, date_ms: int, identity: str, digest: str) -> bytes:
    """The five-line string that is signed, each line ending in ``\\n``; ``method`` is upper-cased.

    Raises ValueError when a field would make the challenge ambiguous (a line break anywhere, whitespace in
    the method or the request-uri) or cannot be encoded.
    """
    if _SPACE_OR_LINE_BREAK.search(method) or _SPACE_OR_LINE_BREAK.search(request_uri):
        raise ValueError("the method and the request-uri must not contain whitespace")
    if any(_LINE_BREAK.search(field) for field in (host, identity, digest)):
        raise ValueError("challenge fields must not contain line breaks")
    if type(date_ms) is not int:
        raise TypeError("date_ms must be an int")
    return _challenge_of_checked(method, request_uri, host, date_ms, identity, digest)


def _challenge_of_checked(
    method: str, request_uri: str, host: str, date_ms: int, identity: str, digest: str
) -> bytes:
    """``challenge`` for fields already known to pass its checks (and to be encodable)."""
    text = f"{method.upper()} {request_uri}\n{host}\n{date_ms}\n{identity}\n{digest}\n"
    return text.encode("utf-8")


def sign(secret: str, challenge_bytes: bytes) -> str:
    """``base64(HMAC-SHA256(key=secret as UTF-8, msg=challenge))``; the secret is not base64-decoded."""
    mac = hmac.new(secret.encode("utf-8"), challenge_bytes, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def authorization_header(identity: str, signature: str) -> str:
    """``Rapid7-HMAC-V1-SHA256 <base64(identity:signature)>``."""
    if ":" in identity or ":" in signature:
        raise ValueError("neither the identity nor the signature may contain ':'")
    credentials = base64.b64encode(f"{identity}:{signature}".encode()).decode("ascii")
    return f"{SCHEME} {credentials}"


def _visible_ascii(value: str) -> bool:
    """Whether ``value`` is only visible ASCII, ``[!-~]*``: no whitespace, no control characters.

    The string methods answer this several times faster than a regular expression, on the hot path."""
    return value.isascii() and value.isprintable() and " " not in value


def parse_authorization(value: str) -> tuple[str, str]:
    """Split an Authorization header into ``(identity, signature)``.

    Exactly ``<SCHEME> <base64>`` (scheme case-sensitive, one space), and exactly one colon inside the
    decoded credentials, with a non-empty identity and signature. Anything else: MALFORMED_AUTHORIZATION.
    """
    prefix = SCHEME + " "
    if not value.startswith(prefix):
        raise SignatureError(MALFORMED_AUTHORIZATION, "Invalid authentication protocol")
    token = value[len(prefix) :]
    if not token or not token.isascii():
        raise SignatureError(MALFORMED_AUTHORIZATION, "Invalid Authorization header")
    try:
        decoded = base64.b64decode(token, validate=True).decode("ascii")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise SignatureError(MALFORMED_AUTHORIZATION, "Invalid Authorization header") from None
    # Identity and signature are opaque but non-empty visible ASCII, on either side of the only colon.
    identity, _, signature = decoded.partition(":")
    if not identity or not signature or ":" in signature or not _visible_ascii(decoded):
        raise SignatureError(MALFORMED_AUTHORIZATION, "Invalid authentication parameters")
    return identity, signature


# --- the Date header ------------------------------------------------------------------------------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS: Final = timedelta(milliseconds=1)
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "(" + "|".join(_MONTHS) + ")"
_DAY_NAME = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY_NAME = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_TIME = r"(\d{2}):(\d{2}):(\d{2})"

# Epoch milliseconds, what clients send. 16 digits reach far beyond any sane date; more is not a date.
_MAX_EPOCH_MS_DIGITS = 16
# RFC 7231 section 7.1.1.1: IMF-fixdate, and the obsolete RFC 850 and asctime forms.
_IMF_FIXDATE = re.compile(rf"{_DAY_NAME}, (\d{{2}}) {_MONTH} (\d{{4}}) {_TIME} GMT")
_RFC850_DATE = re.compile(rf"{_LONG_DAY_NAME}, (\d{{2}})-{_MONTH}-(\d{{2}}) {_TIME} GMT")
_ASCTIME_DATE = re.compile(rf"{_DAY_NAME} {_MONTH} ( \d|\d{{2}}) {_TIME} (\d{{4}})")
# ISO 8601 / RFC 3339 date-time with an explicit offset (a zone-less time is ambiguous, so rejected).
_ISO_8601 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt]" + _TIME + r"(?:[.,](\d+))?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)"
)


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_MS


def _gmt(year: int, month: str, day: str, hour: str, minute: str, second: str) -> datetime:
    return datetime(year, _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second), tzinfo=UTC)


def _rfc850_year(two_digits: int, now_ms: int | None) -> int:
    """RFC 7231: a two-digit year more than 50 years in the future is the most recent past such year."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    this_year = (_EPOCH + timedelta(milliseconds=now)).year
    year = this_year - this_year % 100 + two_digits
    return year - 100 if year > this_year + 50 else year


def parse_date_ms(value: str, *, now_ms: int | None = None) -> int:
    """The Date header as epoch milliseconds.

    Accepts integer milliseconds (ASCII digits), an HTTP-date (IMF-fixdate, RFC 850, asctime; whole seconds)
    and an ISO 8601 date-time with ``Z`` or an offset (``2016-03-24T04:17:57Z``,
    ``2016-03-24T06:17:57.250+02:00``; fractions below a millisecond are truncated). Surrounding spaces and
    tabs are ignored. ``now_ms`` only resolves the century of an RFC 850 two-digit year (default: the clock).
    Anything else raises SignatureError INVALID_DATE.
    """
    text = value.strip(" \t")
    try:
        if text.isascii() and text.isdigit() and len(text) <= _MAX_EPOCH_MS_DIGITS:
            return int(text)
        if match := _IMF_FIXDATE.fullmatch(text):
            day, month, year, hour, minute, second = match.groups()
            return _to_ms(_gmt(int(year), month, day, hour, minute, second))
        if match := _RFC850_DATE.fullmatch(text):
            day, month, year, hour, minute, second = match.groups()
            return _to_ms(_gmt(_rfc850_year(int(year), now_ms), month, day, hour, minute, second))
        if match := _ASCTIME_DATE.fullmatch(text):
            month, day, hour, minute, second, year = match.groups()
            return _to_ms(_gmt(int(year), month, day.strip(), hour, minute, second))
        if match := _ISO_8601.fullmatch(text):
            year, month, day, hour, minute, second, fraction, zulu, sign_, off_h, off_m = match.groups()
            offset = timedelta(0)
            if not zulu:
                offset = timedelta(hours=int(off_h), minutes=int(off_m or "0"))
                if int(off_m or "0") > 59:
                    raise ValueError("offset minutes out of range")
                if sign_ == "-":
                    offset = -offset
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone(offset)
            )
            millis = int((fraction or "")[:3].ljust(3, "0"))
            return _to_ms(moment) + millis
    except (ValueError, OverflowError):
        pass  # a well-formed but impossible date (month 13, 25 o'clock, offset of 24h, ...)
    raise SignatureError(INVALID_DATE)


# --- verification -------------------------------------------------------------------------------------

_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 7230 token
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]|\s")  # no control characters, no whitespace at all


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from a JSON "\ud800"
        return False
    return True


def _printable_ascii(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _check_request_line_and_fields(request: SignedRequest, host: str, digest: str) -> tuple[str, str]:
    method, uri = request.method, request.uri
    if not method:
        raise SignatureError(MALFORMED_REQUEST, "Missing request method")
    if not uri:
        raise SignatureError(MALFORMED_REQUEST, "Missing request URI")
    if not _METHOD.fullmatch(method):
        raise SignatureError(MALFORMED_REQUEST, "Invalid request method")
    # Each field's full check runs only when the quick test for the common case (plain visible ASCII,
    # which passes it) does not already settle it.
    if not _visible_ascii(uri) and (_URI_FORBIDDEN.search(uri) or not _encodable(uri)):
        raise SignatureError(MALFORMED_REQUEST, "Invalid request URI")
    if not _printable_ascii(host) and (_CONTROL.search(host) or not _encodable(host)):
        raise SignatureError(MALFORMED_REQUEST, "Invalid header host")
    if not _printable_ascii(digest) and (_CONTROL.search(digest) or not _encodable(digest)):
        raise SignatureError(MALFORMED_REQUEST, "Invalid header digest")
    return method, uri


@dataclass(frozen=True)
class Claim:
    """A request that passed every check needing no key: who claims to have signed it, the signature it
    presents, its parsed date, and the challenge that signature must be the HMAC of."""

    identity: str
    signature: str
    date_ms: int
    challenge: bytes


def check_claim(request: SignedRequest, *, now_ms: int, skew_ms: int, body: bytes | None = None) -> Claim:
    """Run the checks that come before the key lookup, in the contract's order (shared-keys.md section 5):
    the required headers (authorization, date, digest, host; an empty value counts as missing), the request
    line and the fields' characters, the Date parse, the skew ``|now_ms - date| > skew_ms``, the digest
    against ``body`` (only when the body is given) and the Authorization parse. Raises SignatureError.

    Split from ``check_hmac`` so that a verifier whose key lookup is costly (a peer datacenter's Notary)
    pays for it only for a request that could still be genuine.
    """
    if skew_ms < 0:
        raise ValueError("skew_ms must not be negative")
    present = (request.authorization, request.date, request.digest, request.host)
    for name, value in zip(REQUIRED_HEADERS, present, strict=True):
        if not value:
            raise SignatureError(MISSING_HEADER, f"Missing header {name}")
    authorization, date, digest, host = cast("tuple[str, str, str, str]", present)
    method, uri = _check_request_line_and_fields(request, host, digest)

    date_ms = parse_date_ms(date, now_ms=now_ms)
    if abs(now_ms - date_ms) > skew_ms:
        raise SignatureError(DATE_SKEW)

    if body is not None and not hmac.compare_digest(
        digest.encode("utf-8"), body_digest(body).encode("ascii")
    ):
        raise SignatureError(DIGEST_MISMATCH)

    identity, signature = parse_authorization(authorization)
    # Every field has passed checks stricter than challenge()'s own (and identity is visible ASCII).
    return Claim(
        identity, signature, date_ms, _challenge_of_checked(method, uri, host, date_ms, identity, digest)
    )


def check_hmac(claim: Claim, secrets: Sequence[str] | str | None) -> None:
    """The last two checks: a key was found (``secrets``: its current secrets, several during a rotation,
    or None), and the signature is the HMAC of the challenge under one of them, compared in constant time.
    Raises SignatureError UNKNOWN_KEY or INVALID_SIGNATURE."""
    candidates = [secrets] if isinstance(secrets, str) else list(secrets or ())
    if not candidates:
        raise SignatureError(UNKNOWN_KEY)
    presented = claim.signature.encode("ascii")
    matched = False
    for secret in candidates:  # no early exit: every secret costs the same
        matched |= hmac.compare_digest(sign(secret, claim.challenge).encode("ascii"), presented)
    if not matched:
        raise SignatureError(INVALID_SIGNATURE)


def verify(
    request: SignedRequest,
    *,
    now_ms: int,
    skew_ms: int,
    lookup: Callable[[str], Sequence[str] | None],
    body: bytes | None = None,
) -> str:
    """Return the identity that signed ``request``, or raise SignatureError: ``check_claim``, then the key
    lookup (``lookup(identity)`` gives the key's current secrets, or None), then ``check_hmac``."""
    claim = check_claim(request, now_ms=now_ms, skew_ms=skew_ms, body=body)
    check_hmac(claim, lookup(claim.identity))
    return claim.identity


def sign_request(
    method: str,
    uri: str,
    host: str,
    body: bytes | None,
    identity: str,
    secret: str,
    now_ms: int,
) -> dict[str, str]:
    """The headers a client adds to sign a request: ``Date`` (integer ms), ``Digest`` and ``Authorization``.

    ``uri`` must be the request target exactly as it goes on the wire and ``host`` the Host header the HTTP
    client will send (it is signed but not returned). ``body=None`` is the empty body.
    """
    digest = body_digest(body or b"")
    signature = sign(secret, challenge(method, uri, host, now_ms, identity, digest))
    return {
        "Date": str(now_ms),
        "Digest": digest,
        "Authorization": authorization_header(identity, signature),
    }
