"""notary.keys.signature: ``Rapid7-HMAC-V1-SHA256`` as Turnstile implements it (shared-keys.md §5).

Every negative test goes through ``_expect``, which also checks that no error message, str or repr carries a
secret or the signature the verifier expected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from notary.keys.identity import Identity, InvalidIdentityError, new_identity, new_secret
from notary.keys.signature import (
    DATE_SKEW,
    DIGEST_MISMATCH,
    EMPTY_BODY_DIGEST,
    INVALID_DATE,
    INVALID_SIGNATURE,
    MALFORMED_AUTHORIZATION,
    MALFORMED_REQUEST,
    MISSING_HEADER,
    SCHEME,
    STATUS_BY_CODE,
    UNKNOWN_KEY,
    SignatureError,
    SignedRequest,
    authorization_header,
    body_digest,
    challenge,
    check_claim,
    check_hmac,
    parse_authorization,
    parse_date_ms,
    sign,
    sign_request,
    verify,
)

# Turnstile's own test vector (shared-keys.md §5).
T_METHOD = "GET"
T_URI = "/after/it"
T_HOST = "localhost"
T_DATE_MS = 1458793077000
T_IDENTITY = "7bf9708aa51b7f7859d0e68b6b62b8ab"
T_SECRET = "6jzQ+NyqY7PwOFpipttvbp53baOI/bqGdn4DMc2ALN2v3+rcNYWz/T4r+jORJHBq"
T_SIGNATURE = "GRilc5yXm7NO7h+XF0KhjifIgtE+dJn+9UOotMIEYZo="
T_HEADER = (
    "Rapid7-HMAC-V1-SHA256 "
    "N2JmOTcwOGFhNTFiN2Y3ODU5ZDBlNjhiNmI2MmI4YWI6R1JpbGM1eVhtN05PN2grWEYwS2hqaWZJZ3RFK2RKbis5VU9vdE1JRVlabz0="
)

SKEW = 300_000
OTHER_SECRET = new_secret()
ALL_SECRETS = (T_SECRET, OTHER_SECRET)


def _hmac(secret: str, text: str) -> str:
    """The scheme written out without notary.keys.signature."""
    mac = hmac.new(secret.encode("utf-8"), text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def _signed(
    *,
    method: str = T_METHOD,
    uri: str = T_URI,
    host: str = T_HOST,
    date_ms: int = T_DATE_MS,
    date: str | None = None,
    identity: str = T_IDENTITY,
    secret: str = T_SECRET,
    body: bytes = b"",
) -> SignedRequest:
    """A correctly signed request (``date`` overrides the header text; the signature covers ``date_ms``)."""
    digest = body_digest(body)
    text = f"{method.upper()} {uri}\n{host}\n{date_ms}\n{identity}\n{digest}\n"
    auth = SCHEME + " " + base64.b64encode(f"{identity}:{_hmac(secret, text)}".encode()).decode()
    return SignedRequest(
        method=method,
        uri=uri,
        host=host,
        date=str(date_ms) if date is None else date,
        digest=digest,
        authorization=auth,
    )


def _lookup(keys: dict[str, Sequence[str]] | None = None) -> Callable[[str], Sequence[str] | None]:
    table = {T_IDENTITY: [T_SECRET]} if keys is None else keys
    return table.get


def _verify(
    request: SignedRequest,
    *,
    now_ms: int = T_DATE_MS,
    lookup: Callable[[str], Sequence[str] | None] | None = None,
    body: bytes | None = None,
) -> str:
    return verify(request, now_ms=now_ms, skew_ms=SKEW, lookup=lookup or _lookup(), body=body)


def _expected_signatures(request: SignedRequest) -> set[str]:
    """Whatever the verifier could have computed for this request, under every secret the tests use."""
    found: set[str] = set()
    for secret in ALL_SECRETS:
        for method in {request.method or "", T_METHOD}:
            found.add(
                _hmac(
                    secret,
                    f"{method.upper()} {request.uri}\n{request.host}\n{T_DATE_MS}\n{T_IDENTITY}\n"
                    f"{request.digest}\n",
                )
            )
    return found


def _assert_clean(error: SignatureError, request: SignedRequest | None = None) -> None:
    texts = (error.message, str(error), repr(error), str(error.to_dict()))
    forbidden = set(ALL_SECRETS) | {T_SIGNATURE}
    if request is not None:
        forbidden |= _expected_signatures(request)
    for text in texts:
        for value in forbidden:
            assert value not in text


def _expect(code: str, request: SignedRequest, **kwargs: object) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        _verify(request, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert error.code == code, error.message
    assert error.status == STATUS_BY_CODE[code]
    _assert_clean(error, request)
    return error


# --- the test vector ------------------------------------------------------------------------------------


def test_empty_body_digest() -> None:
    assert body_digest(b"") == EMPTY_BODY_DIGEST
    assert "SHA256=" + base64.b64encode(hashlib.sha256(b"").digest()).decode() == EMPTY_BODY_DIGEST
    assert body_digest(b"abc") == "SHA256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="


def test_the_challenge_of_the_vector() -> None:
    expected = b"GET /after/it\nlocalhost\n1458793077000\n7bf9708aa51b7f7859d0e68b6b62b8ab\n" + (
        EMPTY_BODY_DIGEST.encode() + b"\n"
    )
    assert challenge(T_METHOD, T_URI, T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST) == expected
    assert challenge("get", T_URI, T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST) == expected


def test_the_vector_signature_and_header() -> None:
    message = challenge(T_METHOD, T_URI, T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST)
    assert sign(T_SECRET, message) == T_SIGNATURE
    assert authorization_header(T_IDENTITY, T_SIGNATURE) == T_HEADER
    assert parse_authorization(T_HEADER) == (T_IDENTITY, T_SIGNATURE)


def test_sign_request_reproduces_the_vector() -> None:
    headers = sign_request(T_METHOD, T_URI, T_HOST, b"", T_IDENTITY, T_SECRET, T_DATE_MS)
    assert headers == {"Date": "1458793077000", "Digest": EMPTY_BODY_DIGEST, "Authorization": T_HEADER}
    assert sign_request(T_METHOD, T_URI, T_HOST, None, T_IDENTITY, T_SECRET, T_DATE_MS) == headers


def test_the_vector_identity_is_not_ours_and_the_scheme_does_not_care() -> None:
    with pytest.raises(InvalidIdentityError):
        Identity.decode(T_IDENTITY)
    request = SignedRequest(
        method="GET",
        uri="/after/it",
        host="localhost",
        date="1458793077000",
        digest=EMPTY_BODY_DIGEST,
        authorization=T_HEADER,
    )
    assert _verify(request, body=b"") == T_IDENTITY
    assert _verify(request) == T_IDENTITY


def test_the_secret_is_used_as_text_not_base64_decoded() -> None:
    message = challenge(T_METHOD, T_URI, T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST)
    decoded_key = hmac.new(base64.b64decode(T_SECRET), message, hashlib.sha256).digest()
    assert sign(T_SECRET, message) != base64.b64encode(decoded_key).decode()


def test_sign_matches_an_independent_computation() -> None:
    for n in range(50):
        secret = new_secret()
        text = f"POST /v1/x?n={n}\nnotary:4443\n{T_DATE_MS + n}\nid{n}\n{body_digest(bytes([n]))}\n"
        assert sign(secret, text.encode()) == _hmac(secret, text)


def test_our_own_identities_sign_and_verify() -> None:
    identity = new_identity("vpc-8de77a22c").encode()
    secret = new_secret()
    body = b'{"hello": "world"}'
    headers = sign_request("post", "/v1/keys?x=1", "notary.internal:8443", body, identity, secret, T_DATE_MS)
    request = SignedRequest.from_headers(
        "POST", "/v1/keys?x=1", {"host": "notary.internal:8443", **{k.upper(): v for k, v in headers.items()}}
    )
    assert parse_authorization(headers["Authorization"])[0] == identity
    assert _verify(request, lookup={identity: [secret]}.get, body=body) == identity


def test_signed_request_from_headers_is_case_insensitive_and_keeps_missing_as_none() -> None:
    request = SignedRequest.from_headers("GET", "/", {"HoSt": "h", "date": "1"})
    assert request == SignedRequest("GET", "/", "h", "1", None, None)


# --- required headers and the request line --------------------------------------------------------------


@pytest.mark.parametrize("name", ["authorization", "date", "digest", "host"])
@pytest.mark.parametrize("missing", [None, ""])
def test_each_missing_header_is_named(name: str, missing: str | None) -> None:
    request = replace(_signed(), **{name: missing})
    error = _expect(MISSING_HEADER, request)
    assert error.status == 400
    assert error.message == f"Missing header {name}"


def test_missing_headers_are_reported_in_contract_order() -> None:
    empty = SignedRequest("GET", "/", None, None, None, None)
    assert _expect(MISSING_HEADER, empty).message == "Missing header authorization"
    assert _expect(MISSING_HEADER, replace(_signed(), date=None, host=None)).message == "Missing header date"
    no_digest = replace(_signed(), digest=None, host=None, date="garbage")
    assert _expect(MISSING_HEADER, no_digest).message == "Missing header digest"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("method", None),
        ("method", ""),
        ("method", "GET /after/it"),
        ("uri", None),
        ("uri", ""),
        ("uri", "/a b"),
        ("uri", "/a\nlocalhost"),
        ("uri", "/a\u2028b"),
        ("host", "localhost\n1458793077000"),
        ("host", "local\x00host"),
        ("digest", EMPTY_BODY_DIGEST + "\r\n"),
        ("host", "\ud800"),
    ],
)
def test_a_malformed_request_line_or_field_is_400(field: str, value: str | None) -> None:
    assert _expect(MALFORMED_REQUEST, replace(_signed(), **{field: value})).status == 400


def test_challenge_refuses_ambiguous_fields() -> None:
    with pytest.raises(ValueError, match="whitespace"):
        challenge("GET /x", "/y", T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST)
    with pytest.raises(ValueError, match="whitespace"):
        challenge("GET", "/x\n", T_HOST, T_DATE_MS, T_IDENTITY, EMPTY_BODY_DIGEST)
    for host, identity, digest in [
        ("h\n1", T_IDENTITY, EMPTY_BODY_DIGEST),
        (T_HOST, "a\rb", EMPTY_BODY_DIGEST),
        (T_HOST, T_IDENTITY, "x\n"),
    ]:
        with pytest.raises(ValueError, match="line breaks"):
            challenge("GET", "/x", host, T_DATE_MS, identity, digest)


# --- the Date header ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1458793077000", 1458793077000),
        ("1458793077123", 1458793077123),
        (" 1458793077000\t", 1458793077000),
        ("0", 0),
        ("Thu, 24 Mar 2016 04:17:57 GMT", 1458793077000),
        ("Thursday, 24-Mar-16 04:17:57 GMT", 1458793077000),
        ("Thu Mar 24 04:17:57 2016", 1458793077000),
        ("Sun Nov  6 08:49:37 1994", 784111777000),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000),
        ("2016-03-24T04:17:57Z", 1458793077000),
        ("2016-03-24t04:17:57z", 1458793077000),
        ("2016-03-24T04:17:57.5Z", 1458793077500),
        ("2016-03-24T04:17:57.123456789Z", 1458793077123),
        ("2016-03-24T04:17:57,250Z", 1458793077250),
        ("2016-03-24T06:17:57+02:00", 1458793077000),
        ("2016-03-24T06:17:57.250+0200", 1458793077250),
        ("2016-03-23T23:17:57-05", 1458793077000),
        ("2016-03-24T04:17:57+00:00", 1458793077000),
        ("2016-03-24T04:17:57-00:00", 1458793077000),
    ],
)
def test_parse_date_ms_accepts(value: str, expected: int) -> None:
    assert parse_date_ms(value) == expected


def test_rfc850_two_digit_years_follow_rfc7231() -> None:
    now_2026 = 1_780_000_000_000
    assert parse_date_ms("Sunday, 06-Nov-94 08:49:37 GMT", now_ms=now_2026) == 784111777000
    assert parse_date_ms("Thursday, 24-Mar-16 04:17:57 GMT", now_ms=now_2026) == 1458793077000
    # 2070 is less than 50 years after 2026, so it stays in this century.
    assert parse_date_ms("Monday, 01-Jan-70 00:00:00 GMT", now_ms=now_2026) == 3155760000000


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "yesterday",
        "now",
        "1458793077000.5",
        "-1458793077000",
        "+1458793077000",
        "1e12",
        "0x10",
        "1_458_793_077_000",
        "12345678901234567",  # 17 digits
        "\u0661\u0664\u0665\u0668",  # Arabic-Indic digits are not ASCII digits
        "1458793077000\n",
        "1458793077000 1",
        "Thu, 24 Mar 2016 04:17:57 UTC",
        "Thu, 24 Mar 2016 04:17:57 +0000",
        "thu, 24 Mar 2016 04:17:57 GMT",
        "Thu, 24 mar 2016 04:17:57 GMT",
        "Thu, 32 Mar 2016 04:17:57 GMT",
        "Thu, 24 Mar 2016 24:17:57 GMT",
        "Thu, 24 Mar 2016 04:17:60 GMT",
        "Thu, 24 Mar 16 04:17:57 GMT",
        "24 Mar 2016 04:17:57 GMT",
        "Thu, 30 Feb 2016 04:17:57 GMT",
        "Thursday, 24-Mar-2016 04:17:57 GMT",
        "2016-03-24T04:17:57",  # no zone: ambiguous
        "2016-03-24",
        "2016-03-24 04:17:57Z",
        "2016-13-24T04:17:57Z",
        "2016-03-24T04:17Z",
        "2016-03-24T04:17:57.Z",
        "2016-03-24T04:17:57+24:00",
        "2016-03-24T04:17:57+02:60",
        "2016-03-24T04:17:57+2:00",
        "0000-01-01T00:00:00Z",
        "20160324T041757Z",
    ],
)
def test_parse_date_ms_rejects(value: str) -> None:
    with pytest.raises(SignatureError) as info:
        parse_date_ms(value)
    assert info.value.code == INVALID_DATE
    assert info.value.status == 400


@pytest.mark.parametrize(
    "date",
    [
        "Thu, 24 Mar 2016 04:17:57 GMT",
        "Thu Mar 24 04:17:57 2016",
        "2016-03-24T04:17:57Z",
        "2016-03-24T04:17:57.000Z",
    ],
)
def test_text_dates_verify_with_their_millisecond_value_in_the_challenge(date: str) -> None:
    assert _verify(_signed(date=date)) == T_IDENTITY


def test_the_challenge_uses_the_parsed_date_not_the_header_text() -> None:
    request = _signed(date="2016-03-24T04:17:57.250Z", date_ms=T_DATE_MS)  # signed over ...000, sent ...250
    _expect(INVALID_SIGNATURE, request)
    assert _verify(_signed(date="2016-03-24T04:17:57.250Z", date_ms=T_DATE_MS + 250)) == T_IDENTITY


def test_an_invalid_date_is_400_and_reported_before_a_bad_signature() -> None:
    request = replace(_signed(secret=OTHER_SECRET), date="yesterday")
    assert _expect(INVALID_DATE, request).status == 400
    assert _expect(INVALID_DATE, replace(request, authorization="Basic Zm9vOmJhcg==")).status == 400


# --- skew -----------------------------------------------------------------------------------------------


def test_skew_boundaries() -> None:
    request = _signed()
    assert _verify(request, now_ms=T_DATE_MS + SKEW) == T_IDENTITY
    assert _verify(request, now_ms=T_DATE_MS - SKEW) == T_IDENTITY
    assert _expect(DATE_SKEW, request, now_ms=T_DATE_MS + SKEW + 1).status == 401
    assert _expect(DATE_SKEW, request, now_ms=T_DATE_MS - SKEW - 1).status == 401


def test_skew_is_reported_before_a_bad_digest_and_a_bad_signature() -> None:
    request = replace(_signed(secret=OTHER_SECRET), digest="SHA256=wrong")
    _expect(DATE_SKEW, request, now_ms=T_DATE_MS + SKEW + 1, body=b"")


def test_a_text_date_is_skew_checked_in_milliseconds() -> None:
    request = _signed(date="Thu, 24 Mar 2016 04:17:57 GMT")
    assert _verify(request, now_ms=T_DATE_MS + SKEW) == T_IDENTITY
    _expect(DATE_SKEW, request, now_ms=T_DATE_MS + SKEW + 1)


def test_zero_skew_and_negative_skew() -> None:
    assert verify(_signed(), now_ms=T_DATE_MS, skew_ms=0, lookup=_lookup()) == T_IDENTITY
    with pytest.raises(ValueError, match="skew"):
        verify(_signed(), now_ms=T_DATE_MS, skew_ms=-1, lookup=_lookup())


# --- digest ---------------------------------------------------------------------------------------------


def test_the_digest_is_checked_against_the_body_when_the_verifier_has_it() -> None:
    body = b'{"a": 1}'
    request = _signed(body=body)
    assert _verify(request, body=body) == T_IDENTITY
    assert _expect(DIGEST_MISMATCH, request, body=b'{"a": 2}').status == 401
    _expect(DIGEST_MISMATCH, request, body=b"")


@pytest.mark.parametrize(
    "digest",
    [
        "sha256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "Sha256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
        "SHA256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA256= 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=,MD5=1B2M2Y8AsgTpgAmY7PhCfg==",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ],
)
def test_a_digest_not_exactly_sha256_base64_of_the_body_mismatches(digest: str) -> None:
    request = replace(_signed(), digest=digest)
    _expect(DIGEST_MISMATCH, request, body=b"")


def test_without_the_body_the_digest_is_only_signed() -> None:
    """Notary's /v1/verify never sees the body: the server checked it; the digest is covered by the HMAC."""
    request = _signed(body=b"something else")
    assert _verify(request) == T_IDENTITY
    _expect(INVALID_SIGNATURE, replace(request, digest=EMPTY_BODY_DIGEST))


def test_a_digest_mismatch_is_reported_before_a_malformed_authorization() -> None:
    request = replace(_signed(), authorization="Basic Zm9vOmJhcg==")
    _expect(DIGEST_MISMATCH, request, body=b"x")


# --- Authorization --------------------------------------------------------------------------------------


def _credentials(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(T_HEADER.replace(" ", "  ", 1), id="two-spaces"),
        pytest.param(T_HEADER.lower(), id="lower-case-everything"),
        pytest.param("rapid7-hmac-v1-sha256" + T_HEADER[len(SCHEME) :], id="lower-case-scheme"),
        pytest.param(T_HEADER.replace(" ", "\t", 1), id="tab"),
        pytest.param(T_HEADER + " ", id="trailing-space"),
        pytest.param(T_HEADER + " extra", id="three-parts"),
        pytest.param(SCHEME, id="scheme-only"),
        pytest.param(SCHEME + " ", id="scheme-and-space"),
        pytest.param(T_HEADER[len(SCHEME) + 1 :], id="credentials-only"),
        pytest.param("Basic " + _credentials(f"{T_IDENTITY}:{T_SIGNATURE}"), id="basic"),
        pytest.param("Rapid7-HMAC-V1-SHA1 " + T_HEADER[len(SCHEME) + 1 :], id="other-algorithm"),
        pytest.param(SCHEME + " not*base64", id="not-base64"),
        pytest.param(T_HEADER.rstrip("="), id="missing-padding"),
        pytest.param(SCHEME + " " + _credentials(T_IDENTITY + T_SIGNATURE), id="no-colon"),
        pytest.param(SCHEME + " " + _credentials(f"{T_IDENTITY}:{T_SIGNATURE}:x"), id="two-colons"),
        pytest.param(SCHEME + " " + _credentials(f"a:b:{T_IDENTITY}:{T_SIGNATURE}"), id="three-colons"),
        pytest.param(SCHEME + " " + _credentials(f":{T_SIGNATURE}"), id="empty-identity"),
        pytest.param(SCHEME + " " + _credentials(f"{T_IDENTITY}:"), id="empty-signature"),
        pytest.param(SCHEME + " " + _credentials(f"{T_IDENTITY} :{T_SIGNATURE}"), id="space-in-identity"),
        pytest.param(SCHEME + " " + _credentials(f"{T_IDENTITY}\n:{T_SIGNATURE}"), id="newline-in-identity"),
        pytest.param(SCHEME + " " + _credentials(f"\u00e9:{T_SIGNATURE}"), id="non-ascii-credentials"),
        pytest.param(SCHEME + " " + T_HEADER[len(SCHEME) + 1 :] + "\u00e9", id="non-ascii-header"),
    ],
)
def test_malformed_authorization(authorization: str) -> None:
    with pytest.raises(SignatureError) as info:
        parse_authorization(authorization)
    assert info.value.code == MALFORMED_AUTHORIZATION
    _assert_clean(info.value)
    error = _expect(MALFORMED_AUTHORIZATION, replace(_signed(), authorization=authorization))
    assert error.status == 400


def test_authorization_header_refuses_a_colon() -> None:
    with pytest.raises(ValueError, match="':'"):
        authorization_header("a:b", T_SIGNATURE)


def test_a_malformed_authorization_is_reported_before_the_key_lookup() -> None:
    calls: list[str] = []

    def lookup(identity: str) -> Sequence[str] | None:
        calls.append(identity)
        return None

    _expect(MALFORMED_AUTHORIZATION, replace(_signed(), authorization="Basic Zm9vOmJhcg=="), lookup=lookup)
    _expect(DATE_SKEW, _signed(), lookup=lookup, now_ms=0)
    assert calls == []


# --- key lookup and HMAC --------------------------------------------------------------------------------


def test_an_unknown_key_is_401_and_reported_before_a_bad_signature() -> None:
    request = _signed(secret=OTHER_SECRET)
    assert _expect(UNKNOWN_KEY, request, lookup=_lookup({})).status == 401
    _expect(UNKNOWN_KEY, request, lookup=_lookup({T_IDENTITY: []}))


def test_the_lookup_is_asked_for_the_identity_from_the_header() -> None:
    calls: list[str] = []

    def lookup(identity: str) -> Sequence[str] | None:
        calls.append(identity)
        return [T_SECRET]

    assert _verify(_signed(), lookup=lookup) == T_IDENTITY
    assert calls == [T_IDENTITY]


def test_a_wrong_secret_is_an_invalid_signature() -> None:
    assert _expect(INVALID_SIGNATURE, _signed(secret=OTHER_SECRET)).status == 401


def test_a_message_never_echoes_the_presented_or_expected_signature() -> None:
    error = _expect(INVALID_SIGNATURE, _signed(secret=OTHER_SECRET))
    presented = parse_authorization(_signed(secret=OTHER_SECRET).authorization or "")[1]
    assert presented not in error.message
    assert T_IDENTITY not in error.message


@pytest.mark.parametrize(
    "tamper",
    [
        {"method": "POST"},
        {"uri": "/after/it?"},
        {"uri": "/after/IT"},
        {"host": "localhost:80"},
        {"host": "LOCALHOST"},
        {"date": str(T_DATE_MS + 1)},
        {"digest": body_digest(b"x")},
    ],
)
def test_every_challenge_field_is_covered(tamper: dict[str, str]) -> None:
    _expect(INVALID_SIGNATURE, replace(_signed(), **tamper))


def test_a_swapped_identity_fails() -> None:
    other = "0" * 32
    request = _signed()
    signature = parse_authorization(request.authorization or "")[1]
    forged = replace(request, authorization=authorization_header(other, signature))
    _expect(INVALID_SIGNATURE, forged, lookup=_lookup({other: [T_SECRET], T_IDENTITY: [T_SECRET]}))


def test_the_method_is_upper_cased_on_both_sides() -> None:
    assert _verify(replace(_signed(method="GET"), method="get")) == T_IDENTITY
    assert _verify(_signed(method="get")) == T_IDENTITY


@pytest.mark.parametrize("position", [0, 1, 2])
def test_during_a_rotation_any_secret_verifies(position: int) -> None:
    secrets = [new_secret(), new_secret(), new_secret()]
    secrets[position] = T_SECRET
    assert _verify(_signed(), lookup=_lookup({T_IDENTITY: secrets})) == T_IDENTITY
    assert _verify(_signed(), lookup=_lookup({T_IDENTITY: tuple(secrets)})) == T_IDENTITY


def test_a_lookup_returning_one_string_is_one_secret_not_its_characters() -> None:
    assert _verify(_signed(), lookup=lambda _identity: T_SECRET) == T_IDENTITY
    _expect(INVALID_SIGNATURE, _signed(), lookup=lambda _identity: OTHER_SECRET)


def test_the_raw_uri_is_signed_as_is() -> None:
    raw = "/a%20b?x=1&a=2"
    request = _signed(uri=raw)
    assert _verify(request) == T_IDENTITY
    # The decoded form (what WSGI's PATH_INFO gives) cannot be on a request line at all.
    _expect(MALFORMED_REQUEST, replace(request, uri="/a b?x=1&a=2"))
    for other in ["/a%20b?a=2&x=1", "/a+b?x=1&a=2", "/a%2520b?x=1&a=2", "/a%20b?x=1&a=2&", "/a%20B?x=1&a=2"]:
        _expect(INVALID_SIGNATURE, replace(request, uri=other))
    encoded = _signed(uri="/caf%C3%A9")
    assert _verify(encoded) == T_IDENTITY
    _expect(INVALID_SIGNATURE, replace(encoded, uri="/caf\u00e9"))
    _expect(INVALID_SIGNATURE, replace(encoded, uri="/caf%c3%a9"))


def test_the_host_keeps_its_port() -> None:
    request = _signed(host="notary.internal:8443")
    assert _verify(request) == T_IDENTITY
    _expect(INVALID_SIGNATURE, replace(request, host="notary.internal"))


# --- the error type -------------------------------------------------------------------------------------


def test_error_codes_and_statuses_are_stable() -> None:
    assert dict(STATUS_BY_CODE) == {
        "MISSING_HEADER": 400,
        "MALFORMED_REQUEST": 400,
        "INVALID_DATE": 400,
        "DATE_SKEW": 401,
        "DIGEST_MISMATCH": 401,
        "MALFORMED_AUTHORIZATION": 400,
        "UNKNOWN_KEY": 401,
        "INVALID_SIGNATURE": 401,
    }
    error = SignatureError(UNKNOWN_KEY)
    assert (error.code, error.status, error.message) == ("UNKNOWN_KEY", 401, "Unknown key")
    assert error.to_dict() == {"code": "UNKNOWN_KEY", "message": "Unknown key"}
    assert str(error) == "Unknown key"
    with pytest.raises(ValueError, match="unknown"):
        SignatureError("NOPE")


def test_every_code_is_reachable_through_verify() -> None:
    """A guard: each stable code has at least one request in this file that produces it."""
    produced = {
        _expect(MISSING_HEADER, replace(_signed(), host=None)).code,
        _expect(MALFORMED_REQUEST, replace(_signed(), method=None)).code,
        _expect(INVALID_DATE, replace(_signed(), date="x")).code,
        _expect(DATE_SKEW, _signed(), now_ms=0).code,
        _expect(DIGEST_MISMATCH, _signed(), body=b"x").code,
        _expect(MALFORMED_AUTHORIZATION, replace(_signed(), authorization="x")).code,
        _expect(UNKNOWN_KEY, _signed(), lookup=_lookup({})).code,
        _expect(INVALID_SIGNATURE, _signed(secret=OTHER_SECRET)).code,
    }
    assert produced == set(STATUS_BY_CODE)


# --- the two halves of verify: check_claim (no key needed) and check_hmac --------------------------------


def test_check_claim_refuses_a_stale_request_before_any_key_is_needed() -> None:
    stale = _signed(date_ms=T_DATE_MS - SKEW - 1)
    with pytest.raises(SignatureError) as caught:
        check_claim(stale, now_ms=T_DATE_MS, skew_ms=SKEW)
    assert caught.value.code == DATE_SKEW


def test_check_claim_then_check_hmac_is_verify() -> None:
    claim = check_claim(_signed(), now_ms=T_DATE_MS, skew_ms=SKEW)
    assert (claim.identity, claim.signature, claim.date_ms) == (T_IDENTITY, T_SIGNATURE, T_DATE_MS)
    check_hmac(claim, (OTHER_SECRET, T_SECRET))
    for secrets, code in (((OTHER_SECRET,), INVALID_SIGNATURE), (None, UNKNOWN_KEY), ((), UNKNOWN_KEY)):
        with pytest.raises(SignatureError) as caught:
            check_hmac(claim, secrets)
        assert caught.value.code == code
