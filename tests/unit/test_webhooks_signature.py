"""notary.webhooks: Standard Webhooks signatures, checked against an independent computation."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from notary.webhooks import WebhookVerificationError, headers, new_secret, sign, verify

# The test vector published with the Standard Webhooks libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"k" * 24 + bytes(range(8))).decode()
MESSAGE_ID = "msg_2f1c9a7e"
TIMESTAMP = 1_735_000_000
BODY = b'{"type":"job.finished","data":{"id":"2f1c9a7e","state":"succeeded"}}'


def _expected(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks definition, written out without using notary.webhooks."""
    key = base64.b64decode(secret[len("whsec_") :] if secret.startswith("whsec_") else secret)
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _headers(signature: str, message_id: str = MESSAGE_ID, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_the_independent_computation_reproduces_the_published_vector() -> None:
    assert _expected(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_sign_matches_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_published_vector() -> None:
    verify(
        VECTOR_SECRET, _headers(VECTOR_SIGNATURE, VECTOR_ID, VECTOR_TIMESTAMP), VECTOR_BODY, VECTOR_TIMESTAMP
    )


@pytest.mark.parametrize(
    ("secret", "message_id", "timestamp", "body"),
    [
        (SECRET, MESSAGE_ID, TIMESTAMP, BODY),
        (SECRET, "msg_other", TIMESTAMP, BODY),
        (SECRET, MESSAGE_ID, TIMESTAMP + 1, BODY),
        (SECRET, MESSAGE_ID, TIMESTAMP, b""),
        (SECRET, MESSAGE_ID, TIMESTAMP, '{"gun":"caf\u00e9"}'.encode()),
        ("whsec_" + base64.b64encode(bytes(range(32))).decode(), MESSAGE_ID, 0, BODY),
    ],
)
def test_sign_matches_the_independent_computation(
    secret: str, message_id: str, timestamp: int, body: bytes
) -> None:
    assert sign(secret, message_id, timestamp, body) == _expected(secret, message_id, timestamp, body)


def test_the_whsec_prefix_is_optional() -> None:
    bare = SECRET.removeprefix("whsec_")
    assert sign(bare, MESSAGE_ID, TIMESTAMP, BODY) == sign(SECRET, MESSAGE_ID, TIMESTAMP, BODY)


def test_a_secret_that_is_not_base64_is_rejected() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not*base64", MESSAGE_ID, TIMESTAMP, BODY)


def test_headers_carry_id_timestamp_and_signature() -> None:
    sent = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    assert sent["webhook-id"] == MESSAGE_ID
    assert sent["webhook-timestamp"] == str(TIMESTAMP)
    assert sent["webhook-signature"] == _expected(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    assert sent["content-type"] == "application/json"
    assert SECRET.removeprefix("whsec_") not in " ".join(sent.values())


def test_new_secret_is_a_fresh_32_byte_whsec_key() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert first != second


# --- verify ----------------------------------------------------------------------------------------------


def test_verify_accepts_a_valid_signature() -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    verify(SECRET, received, BODY, now=TIMESTAMP + 10)


def test_verify_header_names_are_case_insensitive() -> None:
    signature = _expected(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    received = {"Webhook-Id": MESSAGE_ID, "WEBHOOK-TIMESTAMP": str(TIMESTAMP), "Webhook-Signature": signature}
    verify(SECRET, received, BODY, now=TIMESTAMP)


def test_verify_rejects_a_wrong_body() -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify(SECRET, received, BODY + b" ", now=TIMESTAMP)


def test_verify_rejects_a_wrong_secret() -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify(new_secret(), received, BODY, now=TIMESTAMP)


def test_verify_rejects_a_signature_for_another_message_id() -> None:
    received = _headers(_expected(SECRET, "msg_other", TIMESTAMP, BODY))
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, received, BODY, now=TIMESTAMP)


def test_verify_rejects_a_signature_for_another_timestamp() -> None:
    received = _headers(_expected(SECRET, MESSAGE_ID, TIMESTAMP - 1, BODY))
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, received, BODY, now=TIMESTAMP)


@pytest.mark.parametrize("offset", [301, -301, 86_400])
def test_verify_rejects_a_timestamp_outside_the_tolerance(offset: int) -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(SECRET, received, BODY, now=TIMESTAMP + offset)


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_verify_accepts_a_timestamp_at_the_edge_of_the_tolerance(offset: int) -> None:
    verify(SECRET, headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY), BODY, now=TIMESTAMP + offset)


def test_verify_uses_the_given_tolerance() -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    verify(SECRET, received, BODY, now=TIMESTAMP + 1000, tolerance=1000)
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, received, BODY, now=TIMESTAMP + 11, tolerance=10)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_rejects_missing_headers(missing: str) -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    del received[missing]
    with pytest.raises(WebhookVerificationError, match="missing or malformed"):
        verify(SECRET, received, BODY, now=TIMESTAMP)


def test_verify_rejects_a_non_numeric_timestamp() -> None:
    received = headers(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    received["webhook-timestamp"] = "yesterday"
    with pytest.raises(WebhookVerificationError, match="missing or malformed"):
        verify(SECRET, received, BODY, now=TIMESTAMP)


def test_verify_accepts_when_one_of_several_signatures_matches() -> None:
    good = _expected(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    rotated_out = _expected(new_secret(), MESSAGE_ID, TIMESTAMP, BODY)
    for signature in (f"{rotated_out} {good}", f"{good} {rotated_out}", f"v1,bm90LWl0 {rotated_out}  {good}"):
        verify(SECRET, _headers(signature), BODY, now=TIMESTAMP)


def test_verify_rejects_when_none_of_several_signatures_matches() -> None:
    others = " ".join(_expected(new_secret(), MESSAGE_ID, TIMESTAMP, BODY) for _ in range(3))
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, _headers(others), BODY, now=TIMESTAMP)


@pytest.mark.parametrize("transform", ["v2", "bare", "comma-list"])
def test_verify_rejects_signatures_in_another_form(transform: str) -> None:
    good = _expected(SECRET, MESSAGE_ID, TIMESTAMP, BODY)
    digest = good.removeprefix("v1,")
    signature = {"v2": "v2," + digest, "bare": digest, "comma-list": f"v1,x,{good}"}[transform]
    with pytest.raises(WebhookVerificationError):
        verify(SECRET, _headers(signature), BODY, now=TIMESTAMP)
