"""The EC2 identity request, the signed document and the allow-lists (shared-keys.md section 2)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from notary.keys.ec2_identity import (
    MAX_DOCUMENT_BYTES,
    REGION_PATTERN,
    AllowLists,
    IdentityDocumentError,
    IdentityRequest,
    IdentityRequestError,
    InstanceIdentity,
    NotAllowedError,
    check_allowed,
    parse_document,
    verify_identity,
)
from notary.keys.pkcs7 import PKCS7Error
from tests.unit.keys_pkcs7.conftest import AWS_SERIAL, AWS_SIGNING_TIME

REAL_REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-west-1",
    "us-gov-east-1",
    "eu-west-3",
    "eu-central-2",
    "eu-south-1",
    "eu-north-1",
    "ap-northeast-3",
    "ap-southeast-7",
    "ap-east-1",
    "ap-south-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-iso-east-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-south-1",
    "eusc-de-east-1",
    "il-central-1",
    "mx-central-1",
    "ca-west-1",
    "ca-central-1",
    "me-central-1",
    "af-south-1",
    "sa-east-1",
]
JUNK_REGIONS = [
    "us_east_1",
    "../x",
    "",
    "US-EAST-1",
    "us-east-1\n",
    " us-east-1",
    "us-east",
    "us-east-1a",
    "us-east-0",
    "useast1",
    "us-east-1/../../etc",
    "us-east-1*",
    "a-b-1",
]


def _document(**changes: Any) -> bytes:
    base: dict[str, Any] = {
        "privateIp": "10.196.24.63",
        "availabilityZone": "us-east-1a",
        "version": "2017-09-30",
        "instanceId": "i-0123456789abcdef0",
        "instanceType": "m5.large",
        "accountId": "123456789012",
        "imageId": "ami-0abcdef1234567890",
        "pendingTime": "2024-02-29T23:59:59Z",
        "architecture": "arm64",
        "region": "eu-west-3",
    }
    for key, value in changes.items():
        if value is _DROP:
            base.pop(key)
        else:
            base[key] = value
    return json.dumps(base).encode()


_DROP = object()


def _signed(content: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(cert, key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def _b64(der: bytes) -> str:
    import base64

    return base64.b64encode(der).decode()


# --- the document --------------------------------------------------------------------------------------


def test_parse_the_genuine_document(aws_document: bytes) -> None:
    identity = parse_document(aws_document)
    assert identity == InstanceIdentity(
        account_id="716756199562",
        region="us-east-1",
        image_id="ami-bcbffad6",
        instance_id="i-aaaf2d1a",
        pending_time=datetime(2015, 11, 18, 19, 1, 4, tzinfo=UTC),
        availability_zone="us-east-1a",
        instance_type="t2.small",
        architecture="x86_64",
        private_ip="10.196.24.63",
    )


def test_parse_a_current_style_document() -> None:
    identity = parse_document(_document())
    assert identity.instance_id == "i-0123456789abcdef0"
    assert identity.image_id == "ami-0abcdef1234567890"
    assert identity.region == "eu-west-3"
    assert identity.pending_time == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)


def test_pending_time_with_fraction_and_offset_is_normalised_to_utc() -> None:
    identity = parse_document(_document(pendingTime="2024-03-01T01:00:00.250+02:00"))
    assert identity.pending_time == datetime(2024, 2, 29, 23, 0, 0, 250000, tzinfo=UTC)
    assert identity.pending_time.tzinfo is UTC


@pytest.mark.parametrize("field", ["availabilityZone", "instanceType", "architecture", "privateIp"])
def test_optional_fields_may_be_missing_or_null(field: str) -> None:
    assert parse_document(_document(**{field: _DROP})) == parse_document(_document(**{field: None}))
    identity = parse_document(_document(**{field: None}))
    attribute = {
        "availabilityZone": "availability_zone",
        "instanceType": "instance_type",
        "architecture": "architecture",
        "privateIp": "private_ip",
    }[field]
    assert getattr(identity, attribute) is None


@pytest.mark.parametrize("field", ["availabilityZone", "instanceType", "architecture", "privateIp"])
def test_optional_fields_must_be_strings(field: str) -> None:
    with pytest.raises(IdentityDocumentError, match="not a string"):
        parse_document(_document(**{field: 12}))


@pytest.mark.parametrize("field", ["accountId", "region", "imageId", "instanceId", "pendingTime"])
def test_required_fields_missing_or_null(field: str) -> None:
    with pytest.raises(IdentityDocumentError, match=f"has no {field}"):
        parse_document(_document(**{field: _DROP}))
    with pytest.raises(IdentityDocumentError, match=f"has no {field}"):
        parse_document(_document(**{field: None}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("accountId", 123456789012),
        ("accountId", "12345678901"),
        ("accountId", "1234567890123"),
        ("accountId", "12345678901a"),
        ("region", "us_east_1"),
        ("region", "../x"),
        ("region", "US-EAST-1"),
        ("region", ""),
        ("region", ["us-east-1"]),
        ("imageId", "ami-XYZ"),
        ("imageId", "ami-1234567"),
        ("imageId", "aki-12345678"),
        ("instanceId", "i-123"),
        ("instanceId", "i-0123456789ABCDEF0"),
        ("instanceId", 7),
        ("pendingTime", "yesterday"),
        ("pendingTime", "2015-11-18"),
        ("pendingTime", "2015-11-18T19:01:04"),
        ("pendingTime", "2015-11-18 19:01:04Z"),
        ("pendingTime", "2015-13-18T19:01:04Z"),
        ("pendingTime", "2015-02-30T19:01:04Z"),
        ("pendingTime", 1447873264),
    ],
)
def test_malformed_required_fields(field: str, value: object) -> None:
    with pytest.raises(IdentityDocumentError, match=f"{field} is malformed"):
        parse_document(_document(**{field: value}))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"{", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"accountId": "1", "accountId": "2"}', "repeats a member"),
        (b'{"accountId": NaN}', "NaN or Infinity"),
        (b"[" * 10_000, "not valid JSON"),
    ],
)
def test_malformed_documents(content: bytes, message: str) -> None:
    with pytest.raises(IdentityDocumentError, match=message):
        parse_document(content)


def test_oversized_and_non_bytes_documents() -> None:
    with pytest.raises(IdentityDocumentError, match="too large"):
        parse_document(b" " * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(IdentityDocumentError, match="must be bytes"):
        parse_document("{}")  # type: ignore[arg-type]


# --- regions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", REAL_REGIONS)
def test_region_pattern_accepts_every_real_region(region: str) -> None:
    assert REGION_PATTERN.fullmatch(region)
    assert REGION_PATTERN.match(region)  # anchored by itself, not only by fullmatch
    assert parse_document(_document(region=region)).region == region


@pytest.mark.parametrize("region", JUNK_REGIONS)
def test_region_pattern_rejects_junk(region: str) -> None:
    assert not REGION_PATTERN.match(region)
    with pytest.raises(IdentityDocumentError, match="region is malformed"):
        parse_document(_document(region=region))


# --- allow-lists ---------------------------------------------------------------------------------------

IDENTITY = InstanceIdentity(
    account_id="716756199562",
    region="us-east-1",
    image_id="ami-bcbffad6",
    instance_id="i-aaaf2d1a",
    pending_time=datetime(2015, 11, 18, 19, 1, 4, tzinfo=UTC),
)


def test_empty_allow_lists_allow_everything() -> None:
    check_allowed(IDENTITY, AllowLists())


def test_account_allow_list() -> None:
    check_allowed(IDENTITY, AllowLists(accounts=frozenset({"716756199562", "123456789012"})))
    with pytest.raises(NotAllowedError, match="account 716756199562 is not allowed") as caught:
        check_allowed(IDENTITY, AllowLists(accounts=frozenset({"123456789012"})))
    assert caught.value.check == "account"


def test_account_allow_list_is_exact_not_glob() -> None:
    with pytest.raises(NotAllowedError):
        check_allowed(IDENTITY, AllowLists(accounts=frozenset({"7167561995*"})))


@pytest.mark.parametrize(
    "patterns", [("us-east-1",), ("us-*",), ("eu-*", "us-east-?"), ("*",), ("us-[a-z]*-1",)]
)
def test_region_globs_allow(patterns: tuple[str, ...]) -> None:
    check_allowed(IDENTITY, AllowLists(regions=patterns))


@pytest.mark.parametrize("patterns", [("eu-*",), ("us-east-2",), ("US-*",), ("us-gov-*",), ("us-east",)])
def test_region_globs_deny(patterns: tuple[str, ...]) -> None:
    with pytest.raises(NotAllowedError, match="region us-east-1 is not allowed") as caught:
        check_allowed(IDENTITY, AllowLists(regions=patterns))
    assert caught.value.check == "region"


def test_image_allow_list() -> None:
    check_allowed(IDENTITY, AllowLists(images=frozenset({"ami-bcbffad6"})))
    with pytest.raises(NotAllowedError, match="image ami-bcbffad6 is not allowed") as caught:
        check_allowed(IDENTITY, AllowLists(images=frozenset({"ami-00000000"})))
    assert caught.value.check == "image"


def test_all_allow_lists_together_and_the_first_failure_is_named() -> None:
    allow = AllowLists(
        accounts=frozenset({"716756199562"}), regions=("us-*",), images=frozenset({"ami-bcbffad6"})
    )
    check_allowed(IDENTITY, allow)
    with pytest.raises(NotAllowedError) as caught:
        check_allowed(replace(IDENTITY, region="eu-west-1", image_id="ami-00000000"), allow)
    assert caught.value.check == "region"
    with pytest.raises(NotAllowedError) as caught:
        check_allowed(replace(IDENTITY, account_id="123456789012", region="eu-west-1"), allow)
    assert caught.value.check == "account"
    assert isinstance(caught.value, ValueError)


# --- request bodies ------------------------------------------------------------------------------------


def test_warden_shape_with_bare_base64(aws_pkcs7_text: str, aws_der: bytes, aws_document: bytes) -> None:
    request = IdentityRequest.from_json({"document": aws_document.decode(), "signature": aws_pkcs7_text})
    assert request == IdentityRequest(pkcs7_der=aws_der, document=aws_document, nonce=None)


def test_warden_shape_with_pem_and_nonce(aws_pkcs7_text: str, aws_der: bytes, aws_document: bytes) -> None:
    pem = f"-----BEGIN PKCS7-----\n{aws_pkcs7_text.strip()}\n-----END PKCS7-----"
    request = IdentityRequest.from_json(
        {"document": aws_document.decode(), "signature": pem, "nonce": "n-1 ~!"}
    )
    assert request.pkcs7_der == aws_der
    assert request.document == aws_document
    assert request.nonce == "n-1 ~!"


def test_vault_shape(aws_pkcs7_text: str, aws_der: bytes) -> None:
    compact = "".join(aws_pkcs7_text.split())
    request = IdentityRequest.from_json({"pkcs7": compact, "nonce": "x" * 128, "role": "web"})
    assert request == IdentityRequest(pkcs7_der=aws_der, document=None, nonce="x" * 128)
    assert IdentityRequest.from_json({"pkcs7": aws_pkcs7_text, "nonce": None}).nonce is None


def test_body_from_json_text(aws_pkcs7_text: str, aws_document: bytes) -> None:
    """The document travels as a JSON string: its exact text survives the JSON round trip."""
    body = json.loads(json.dumps({"document": aws_document.decode(), "signature": aws_pkcs7_text}))
    assert IdentityRequest.from_json(body).document == aws_document


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "must be a JSON object"),
        ([], "must be a JSON object"),
        ("pkcs7", "must be a JSON object"),
        ({}, "needs pkcs7, or document and signature"),
        ({"nonce": "abc"}, "needs pkcs7, or document and signature"),
        ({"document": "{}"}, "signature is required"),
        ({"signature": "MIAG"}, "document is required"),
        ({"document": None, "signature": "MIAG"}, "document is required"),
        ({"document": "{}", "signature": None}, "signature is required"),
        ({"document": 1, "signature": "MIAG"}, "document must be a non-empty string"),
        ({"document": {}, "signature": "MIAG"}, "document must be a non-empty string"),
        ({"document": "", "signature": "MIAG"}, "document must be a non-empty string"),
        ({"document": "\ud800", "signature": "MIAG"}, "not valid Unicode"),
        ({"document": "x" * (MAX_DOCUMENT_BYTES + 1), "signature": "MIAG"}, "document is too large"),
        ({"document": "{}", "signature": 5}, "signature must be a string"),
        ({"document": "{}", "signature": "not base64!"}, "signature: the PKCS7 is not valid base64"),
        ({"document": "{}", "signature": ""}, "signature: the PKCS7 is empty"),
        ({"pkcs7": None}, "pkcs7 is required"),
        ({"pkcs7": ["MIAG"]}, "pkcs7 must be a string"),
        ({"pkcs7": "MIAGCSq"}, "pkcs7: the PKCS7 is not valid base64"),
        ({"pkcs7": "MIAG", "document": "{}"}, "not both"),
        ({"pkcs7": "MIAG", "signature": "MIAG"}, "not both"),
        ({"pkcs7": "MIAG", "nonce": ""}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": "x" * 129}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": "a\nb"}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": "a\x00b"}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": "caf\u00e9"}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": 12345}, "nonce must be"),
        ({"pkcs7": "MIAG", "nonce": ["a"]}, "nonce must be"),
    ],
)
def test_malformed_bodies(body: object, message: str) -> None:
    with pytest.raises(IdentityRequestError, match=message):
        IdentityRequest.from_json(body)


# --- verify_identity -----------------------------------------------------------------------------------


def test_verify_identity_vault_shape(
    aws_pkcs7_text: str, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    identity, verified = verify_identity(IdentityRequest.from_json({"pkcs7": aws_pkcs7_text}), [aws_cert])
    assert identity == parse_document(aws_document)
    assert identity.account_id == "716756199562"
    assert verified.content == aws_document
    assert verified.signing_time == AWS_SIGNING_TIME
    assert verified.signer_serial == AWS_SERIAL


def test_verify_identity_warden_shape(
    aws_pkcs7_text: str, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    body = {"document": aws_document.decode(), "signature": aws_pkcs7_text, "nonce": "abc"}
    identity, verified = verify_identity(IdentityRequest.from_json(body), [aws_cert])
    assert identity.instance_id == "i-aaaf2d1a"
    assert verified.digest_algorithm == "sha1"


def test_verify_identity_warden_shape_with_forged_account(
    aws_pkcs7_text: str, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    forged = aws_document.replace(b"716756199562", b"000000000000").decode()
    request = IdentityRequest.from_json({"document": forged, "signature": aws_pkcs7_text})
    with pytest.raises(PKCS7Error, match="document does not match the signed content"):
        verify_identity(request, [aws_cert])


def test_verify_identity_rejects_a_self_signed_forgery(
    aws_document: bytes, aws_cert: x509.Certificate, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    forged = aws_document.replace(b"716756199562", b"000000000000")
    der = _signed(forged, leaf_cert, rsa_key)
    for body in ({"pkcs7": _b64(der)}, {"document": forged.decode(), "signature": _b64(der)}):
        with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
            verify_identity(IdentityRequest.from_json(body), [aws_cert])


def test_verify_identity_with_a_pinned_rsa2048_signer(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    document = _document()
    der = _signed(document, leaf_cert, rsa_key)
    identity, verified = verify_identity(
        IdentityRequest.from_json({"document": document.decode(), "signature": _b64(der)}), [leaf_cert]
    )
    assert identity.account_id == "123456789012"
    assert verified.digest_algorithm == "sha256"


def test_verify_identity_signed_but_unusable_document(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = _signed(_document(region="../x"), leaf_cert, rsa_key)
    with pytest.raises(IdentityDocumentError, match="region is malformed"):
        verify_identity(IdentityRequest.from_json({"pkcs7": _b64(der)}), [leaf_cert])
