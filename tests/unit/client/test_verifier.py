"""notary.client.verifier: the /v1/verify client and the local checks, against the Notary stand-in."""

from __future__ import annotations

import logging
import threading

import pytest

from notary.client.auth import NotaryRequestsAuth
from notary.client.verifier import (
    MissingRoleError,
    NotaryUnavailableError,
    NotaryVerifier,
    VerificationError,
    Verified,
    authorize,
    check_locally,
)
from notary.keys.signature import SignedRequest, sign_request
from tests.unit.client.servers import CALLER, CLIENT, NotaryStandIn, closed_port_url, now_ms

HOST = "api.internal"


def signed(body: bytes = b"", *, date_ms: int | None = None) -> SignedRequest:
    headers = sign_request(
        "PATCH", "/v1/x?y=%2F", HOST, body, CLIENT.identity, CLIENT.secret, date_ms or now_ms()
    )
    return SignedRequest.from_headers("PATCH", "/v1/x?y=%2F", {**headers, "Host": HOST})


def verifier_for(url: str) -> NotaryVerifier:
    return NotaryVerifier(url, caller_auth=NotaryRequestsAuth(CALLER.identity, CALLER.secret), timeout=5)


def test_check_locally_returns_the_claimed_identity_and_ignores_the_skew() -> None:
    assert check_locally(signed(b"abc"), b"abc") == CLIENT.identity
    assert check_locally(signed(b"abc", date_ms=1), b"abc") == CLIENT.identity  # Notary's clock decides


def test_check_locally_uses_the_scheme_codes() -> None:
    with pytest.raises(VerificationError) as caught:
        check_locally(signed(b"abc"), b"abd")
    assert (caught.value.status, caught.value.code) == (401, "DIGEST_MISMATCH")


def test_verify_and_authorize(notary: NotaryStandIn) -> None:
    verifier = verifier_for(notary.url + "/")
    expected = Verified(CLIENT.identity, CLIENT.roles, "2099-01-01T00:00:00Z", 3600)
    assert verifier.verify(signed()) == expected
    assert authorize(verifier, signed(b"{}"), b"{}", ["billing:read"]) == expected
    with pytest.raises(MissingRoleError) as caught:
        authorize(verifier, signed(), b"", ["root"])
    assert (caught.value.status, caught.value.code) == (403, "FORBIDDEN")
    verifier.close()


def test_one_session_per_thread(notary: NotaryStandIn) -> None:
    verifier = verifier_for(notary.url)
    results: list[Verified] = []
    threads = [threading.Thread(target=lambda: results.append(verifier.verify(signed()))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert len(verifier._sessions) == 4
    verifier.close()
    assert verifier._sessions == []


def test_unavailable_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="notary.client.verifier")
    with pytest.raises(NotaryUnavailableError) as caught:
        verifier_for(closed_port_url()).verify(signed())
    assert (caught.value.status, caught.value.code) == (503, "NOTARY_UNAVAILABLE")
    assert "cannot reach Notary" in caplog.text
    assert CALLER.secret not in caplog.text
    assert CLIENT.secret not in caplog.text
    assert CALLER.secret not in repr(caught.value)


def test_notary_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        verifier_for("notary.internal")
