"""notary.keys.signature's quick checks for the common case answer exactly as the regular expressions the
contract was first written with (kept here as the reference), on many generated inputs: well-formed ones,
and ones salted with every kind of character a check must refuse (controls, ASCII and Unicode whitespace,
non-ASCII letters and digits, lone surrogates)."""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable

import pytest

from notary.keys.identity import Identity
from notary.keys.signature import (
    MALFORMED_AUTHORIZATION,
    MALFORMED_REQUEST,
    SCHEME,
    SignatureError,
    SignedRequest,
    challenge,
    check_claim,
    parse_authorization,
    parse_date_ms,
)

CASES = 5000
# Characters each check treats specially, and ordinary ones to fill with.
AWKWARD = " \t\r\n\x00\x1c\x1f\x7f\x85\xa0\u2028\u3000é\u00b2\u0663\ud800:=/?%+"
ORDINARY = "aZ09-._~!$&'()*,;@[]"


def _text(rng: random.Random, alphabet: str, max_length: int = 12) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_length)))


def _outcome(check: Callable[..., object], *args: object, **kwargs: object) -> object:
    """What ``check(*args, **kwargs)`` returns, or the code and message it refuses with."""
    try:
        return check(*args, **kwargs)
    except SignatureError as refused:
        return (refused.code, refused.message)


# --- the reference: the checks as regular expressions -----------------------------------------------------

_CREDENTIAL_PART = re.compile(r"[!-~]+")
_EPOCH_MS = re.compile(r"[0-9]{1,16}")
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]|\s")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def reference_credentials(decoded: bytes) -> object:
    """What parse_authorization answers for the well-encoded credentials ``decoded``."""
    if not decoded or not decoded.isascii():  # an empty token, or not ASCII once decoded
        return (MALFORMED_AUTHORIZATION, "Invalid Authorization header")
    parts = decoded.decode("ascii").split(":")
    if len(parts) != 2 or not all(_CREDENTIAL_PART.fullmatch(part) for part in parts):
        return (MALFORMED_AUTHORIZATION, "Invalid authentication parameters")
    return parts[0], parts[1]


def reference_request_line_and_fields(method: str, uri: str, host: str, digest: str) -> str | None:
    """The message check_claim refuses these fields with, or None."""
    if not _METHOD.fullmatch(method):
        return "Invalid request method"
    if _URI_FORBIDDEN.search(uri) or not _encodable(uri):
        return "Invalid request URI"
    if _CONTROL.search(host) or not _encodable(host):
        return "Invalid header host"
    if _CONTROL.search(digest) or not _encodable(digest):
        return "Invalid header digest"
    return None


# --- the comparisons ----------------------------------------------------------------------------------


def test_parse_authorization_answers_as_the_reference() -> None:
    rng = random.Random(1)
    credential_bytes = [character.encode("utf-8", "surrogatepass") for character in AWKWARD + ORDINARY]
    for _ in range(CASES):
        decoded = b"".join(rng.choice(credential_bytes) for _ in range(rng.randint(0, 10)))
        header = f"{SCHEME} {base64.b64encode(decoded).decode('ascii')}"
        assert _outcome(parse_authorization, header) == reference_credentials(decoded), decoded


def test_well_formed_authorizations_parse_as_the_reference() -> None:
    rng = random.Random(2)
    for _ in range(CASES):
        identity = Identity(dc=_text(rng, ORDINARY, 8) or "dc", id=f"t-{rng.getrandbits(64):016x}").encode()
        signature = base64.b64encode(rng.randbytes(32)).decode("ascii")
        decoded = f"{identity}:{signature}".encode()
        header = f"{SCHEME} {base64.b64encode(decoded).decode('ascii')}"
        assert parse_authorization(header) == reference_credentials(decoded) == (identity, signature)


@pytest.mark.parametrize("surrounding", ["", " ", "\t "])
def test_epoch_milliseconds_are_recognised_as_by_the_reference(surrounding: str) -> None:
    rng = random.Random(3)
    for _ in range(CASES):
        text = _text(rng, "0123456789" * 4 + "\u00b2\u0663\uff11 x-+", 18)
        value = surrounding + text + surrounding
        expected: object = (
            int(text.strip(" \t"))
            if _EPOCH_MS.fullmatch(text.strip(" \t"))
            else ("INVALID_DATE", "Invalid Date header")
        )
        assert _outcome(parse_date_ms, value) == expected, value


def test_request_line_and_field_checks_answer_as_the_reference() -> None:
    rng = random.Random(4)
    for _ in range(CASES):
        method = (
            rng.choice(["GET", "post", "PATCH"]) if rng.random() < 0.7 else _text(rng, AWKWARD + "GET", 4)
        )
        fields = [_text(rng, ORDINARY + (AWKWARD if rng.random() < 0.3 else ""), 16) or "x" for _ in range(3)]
        uri, host, digest = fields
        request = SignedRequest(method or "GET", uri, host, "1000", digest, "-")
        expected = reference_request_line_and_fields(method or "GET", uri, host, digest)
        outcome = _outcome(check_claim, request, now_ms=1000, skew_ms=0)
        if expected is None:  # passes these checks, and is refused only for its Authorization
            assert outcome == (MALFORMED_AUTHORIZATION, "Invalid authentication protocol"), request
        else:
            assert outcome == (MALFORMED_REQUEST, expected), request


def test_the_challenge_of_a_claim_is_the_challenge_of_its_fields() -> None:
    rng = random.Random(5)
    for _ in range(CASES // 5):
        uri = "/" + _text(rng, ORDINARY + "é\u00b2", 16)
        host = _text(rng, ORDINARY + " é\u00a0\u2028", 16) or "h"
        digest = "SHA256=" + _text(rng, ORDINARY + " é", 16)
        identity, signature = _text(rng, ORDINARY, 8) or "i", _text(rng, ORDINARY, 8) or "s"
        credentials = base64.b64encode(f"{identity}:{signature}".encode()).decode("ascii")
        method = rng.choice(["GET", "post", "Patch"])
        request = SignedRequest(method, uri, host, "5000", digest, f"{SCHEME} {credentials}")
        claim = check_claim(request, now_ms=5000, skew_ms=0)
        assert claim.challenge == challenge(method, uri, host, 5000, identity, digest)
