"""notary.auth.challenge: the WWW-Authenticate value of notary's 401."""

from __future__ import annotations

from notary.auth.access import CATALOG, repository
from notary.auth.challenge import Failure, autoredirect_realm, challenge

REALM = "https://auth.example.com/token"


def test_missing_token_has_no_error() -> None:
    assert challenge(REALM, "notary", repository("a/b", "push", "pull"), Failure.MISSING) == (
        'Bearer realm="https://auth.example.com/token",service="notary",scope="repository:a/b:push,pull"'
    )


def test_invalid_and_insufficient() -> None:
    assert challenge(REALM, "notary", [CATALOG], Failure.INVALID).endswith(
        ',scope="registry:catalog:*",error="invalid_token"'
    )
    assert challenge(REALM, "notary", [CATALOG], Failure.INSUFFICIENT).endswith(
        ',scope="registry:catalog:*",error="insufficient_scope"'
    )


def test_no_scope_parameter_without_accesses() -> None:
    assert challenge(REALM, "notary", [], Failure.MISSING) == f'Bearer realm="{REALM}",service="notary"'


def test_request_values_cannot_break_out_of_the_header() -> None:
    value = challenge(REALM, "notary", repository('evil"gun\r\nX-Injected: 1', "pull"), Failure.MISSING)
    assert "\r" not in value
    assert "\n" not in value
    assert 'scope="repository:evil\\"gun\\r\\nX-Injected: 1:pull"' in value


def test_autoredirect_realm_uses_the_host() -> None:
    assert autoredirect_realm("notary.example.com:4443") == "https://notary.example.com:4443/auth/token"
