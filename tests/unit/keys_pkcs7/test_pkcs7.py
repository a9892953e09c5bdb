"""PKCS7 SignedData verification against pinned certificates only (shared-keys.md section 2)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from notary.keys.pkcs7 import MAX_PKCS7_TEXT, PKCS7Error, load_pkcs7, verify_signed_data
from tests.unit.keys_pkcs7._cms import (
    build,
    flip_byte_in,
    make_cert,
    signed_data,
    signer_info,
)
from tests.unit.keys_pkcs7.conftest import AWS_SERIAL, AWS_SIGNING_TIME

FORGED_DOCUMENT_ACCOUNT = b"000000000000"


def builder_pkcs7(
    content: bytes,
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    digest: hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512 | None = None,
    extra_certs: tuple[x509.Certificate, ...] = (),
    detached: bool = False,
) -> bytes:
    """A PKCS7 made by cryptography's own builder: the signing certificate is embedded in it."""
    builder = pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, digest or hashes.SHA256())
    for extra in extra_certs:
        builder = builder.add_certificate(extra)
    options = [pkcs7.PKCS7Options.Binary]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    return builder.sign(Encoding.DER, options)


def _signature_of(der: bytes) -> bytes:
    signature = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native
    assert isinstance(signature, bytes)
    return signature


# --- the genuine AWS PKCS7 -------------------------------------------------------------------------------


def test_aws_pkcs7_verifies_vault_shape(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    verified = verify_signed_data(aws_der, [aws_cert])
    assert verified.content == aws_document
    assert len(verified.content) == 422
    assert verified.signing_time == AWS_SIGNING_TIME
    assert verified.signing_time.tzinfo is not None
    assert verified.digest_algorithm == "sha1"
    assert verified.signer_serial == AWS_SERIAL == aws_cert.serial_number


def test_aws_pkcs7_verifies_warden_shape(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    verified = verify_signed_data(aws_der, [aws_cert], document=aws_document)
    assert verified.content == aws_document
    assert verified.signing_time == datetime(2015, 11, 18, 19, 1, 18, tzinfo=UTC)


def test_aws_fixture_is_ber_without_certificates(aws_der: bytes) -> None:
    # Indefinite lengths (0x80) right at the top, and no certificates: the pin is the only trust.
    assert aws_der[:2] == b"\x30\x80"
    assert not cms.ContentInfo.load(aws_der)["content"]["certificates"]


def test_aws_pkcs7_among_other_pinned_certs(
    aws_der: bytes, aws_cert: x509.Certificate, ca_cert: x509.Certificate, leaf_cert: x509.Certificate
) -> None:
    assert verify_signed_data(aws_der, [ca_cert, leaf_cert, aws_cert]).signer_serial == AWS_SERIAL


@pytest.mark.parametrize("position", [0, 1, 100, 211, 421])
def test_document_with_one_byte_changed_is_rejected(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes, position: int
) -> None:
    changed = aws_document[:position] + bytes([aws_document[position] ^ 0x01]) + aws_document[position + 1 :]
    with pytest.raises(PKCS7Error, match="document does not match the signed content"):
        verify_signed_data(aws_der, [aws_cert], document=changed)


def test_document_with_extra_newline_is_rejected(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    with pytest.raises(PKCS7Error, match="document does not match"):
        verify_signed_data(aws_der, [aws_cert], document=aws_document + b"\n")


def test_document_with_other_account_beside_genuine_pkcs7_is_rejected(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    forged = aws_document.replace(b"716756199562", FORGED_DOCUMENT_ACCOUNT)
    assert forged != aws_document
    assert len(forged) == len(aws_document)
    with pytest.raises(PKCS7Error, match="document does not match the signed content"):
        verify_signed_data(aws_der, [aws_cert], document=forged)


def test_embedded_content_changed_fails_the_message_digest(
    aws_der: bytes, aws_cert: x509.Certificate
) -> None:
    tampered = aws_der.replace(b"716756199562", FORGED_DOCUMENT_ACCOUNT)
    assert tampered != aws_der
    with pytest.raises(PKCS7Error, match="message digest does not match"):
        verify_signed_data(tampered, [aws_cert])


def test_aws_signature_tampered_is_rejected(aws_der: bytes, aws_cert: x509.Certificate) -> None:
    signature = _signature_of(aws_der)
    # The last byte of the DSA signature's ``s``: the DER of (r, s) still parses.
    tampered = flip_byte_in(aws_der, signature, len(signature) - 1)
    with pytest.raises(PKCS7Error, match="signature does not verify"):
        verify_signed_data(tampered, [aws_cert])


def test_aws_signing_time_tampered_is_rejected(aws_der: bytes, aws_cert: x509.Certificate) -> None:
    tampered = aws_der.replace(b"151118190118Z", b"151118190119Z")
    assert tampered != aws_der
    with pytest.raises(PKCS7Error, match="signature does not verify"):
        verify_signed_data(tampered, [aws_cert])


def test_aws_pkcs7_against_other_pin_is_rejected(aws_der: bytes, leaf_cert: x509.Certificate) -> None:
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(aws_der, [leaf_cert])
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(aws_der, [])


def test_every_single_bit_flip_of_the_aws_pkcs7_is_rejected_or_harmless(
    aws_der: bytes, aws_cert: x509.Certificate, aws_document: bytes
) -> None:
    """Flip each bit in turn: verification either raises PKCS7Error (never anything else) or still yields the
    genuine content. The harmless flips are in fields outside the signature that verification does not rely
    on: the SignedData digestAlgorithms list, version and NULL-parameter tags, the case or spacing of the
    issuer name (compared as RFC 5280 says), and dsa-with-SHA1 turned into plain dsa."""
    harmless = 0
    for position in range(len(aws_der)):
        for bit in range(8):
            mutated = aws_der[:position] + bytes([aws_der[position] ^ (1 << bit)]) + aws_der[position + 1 :]
            try:
                verified = verify_signed_data(mutated, [aws_cert])
            except PKCS7Error:
                continue
            harmless += 1
            assert verified.content == aws_document
            assert verified.signer_serial == AWS_SERIAL
            assert verified.signing_time == AWS_SIGNING_TIME
    assert harmless < 200


def test_every_truncation_of_the_aws_pkcs7_is_a_pkcs7_error(
    aws_der: bytes, aws_cert: x509.Certificate
) -> None:
    for length in range(len(aws_der)):
        with pytest.raises(PKCS7Error):
            verify_signed_data(aws_der[:length], [aws_cert])


def test_trailing_bytes_are_rejected(aws_der: bytes, aws_cert: x509.Certificate) -> None:
    with pytest.raises(PKCS7Error, match="malformed"):
        verify_signed_data(aws_der + b"\x00\x00", [aws_cert])


@pytest.mark.parametrize(
    "garbage", [b"", b"\x00", b"\x30", b"\x30\x03\x02\x01\x01", b"hello world", bytes(100)]
)
def test_garbage_der_is_a_pkcs7_error(garbage: bytes, aws_cert: x509.Certificate) -> None:
    with pytest.raises(PKCS7Error):
        verify_signed_data(garbage, [aws_cert])


# --- self-made PKCS7: the embedded certificate is ignored ----------------------------------------------


def test_self_signed_forgery_with_embedded_cert_is_rejected(
    aws_document: bytes,
    aws_cert: x509.Certificate,
    leaf_cert: x509.Certificate,
    ca_cert: x509.Certificate,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    forged = aws_document.replace(b"716756199562", FORGED_DOCUMENT_ACCOUNT)
    der = builder_pkcs7(forged, leaf_cert, rsa_key, extra_certs=(ca_cert,))
    assert len(cms.ContentInfo.load(der)["content"]["certificates"]) == 2
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(der, [aws_cert])
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(der, [aws_cert], document=forged)


def test_pinning_only_the_issuing_ca_does_not_trust_an_embedded_leaf(
    aws_document: bytes, leaf_cert: x509.Certificate, ca_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    """No chain is built: the embedded leaf is never read, so only a pinned signing certificate counts."""
    der = builder_pkcs7(aws_document, leaf_cert, rsa_key, extra_certs=(ca_cert,))
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(der, [ca_cert])


def test_builder_pkcs7_verifies_with_its_signing_cert_pinned(
    aws_document: bytes, leaf_cert: x509.Certificate, ca_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = builder_pkcs7(aws_document, leaf_cert, rsa_key, extra_certs=(ca_cert,))
    verified = verify_signed_data(der, [ca_cert, leaf_cert], document=aws_document)
    assert verified.content == aws_document  # byte-exact: Binary keeps "\n" as it is
    assert verified.digest_algorithm == "sha256"
    assert verified.signer_serial == leaf_cert.serial_number
    assert verified.signing_time is not None


@pytest.mark.parametrize("digest", [hashes.SHA384(), hashes.SHA512()])
def test_rsa_with_sha384_and_sha512_verify(
    digest: hashes.SHA384 | hashes.SHA512, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = builder_pkcs7(b"content\n", leaf_cert, rsa_key, digest=digest)
    assert verify_signed_data(der, [leaf_cert]).digest_algorithm == digest.name


def test_rsa_sha224_is_rejected(leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey) -> None:
    der = builder_pkcs7(b"content", leaf_cert, rsa_key, digest=hashes.SHA224())
    with pytest.raises(PKCS7Error, match="digest algorithm is not supported"):
        verify_signed_data(der, [leaf_cert])


def test_impersonating_the_pinned_issuer_and_serial_fails_the_signature(
    aws_document: bytes, aws_cert: x509.Certificate, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The SignerInfo names the AWS certificate but the forger's key signed: the pinned key decides."""
    info = signer_info(
        aws_document,
        leaf_cert,
        rsa_key,
        digest="sha256",
        signature_algorithm="sha256_dsa",
        sid_issuer=aws_cert,
    )
    der = signed_data(aws_document, [info], certificates=[leaf_cert])
    with pytest.raises(PKCS7Error, match="signature does not verify"):
        verify_signed_data(der, [aws_cert])


def test_same_issuer_other_serial_is_not_pinned(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, sid_serial=leaf_cert.serial_number + 1)
    with pytest.raises(PKCS7Error, match="not signed by a pinned certificate"):
        verify_signed_data(der, [leaf_cert])


def test_tampered_signature_with_pinned_signer_is_rejected(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = builder_pkcs7(b"content", leaf_cert, rsa_key)
    assert verify_signed_data(der, [leaf_cert]).content == b"content"
    tampered = flip_byte_in(der, _signature_of(der))
    with pytest.raises(PKCS7Error, match="signature does not verify"):
        verify_signed_data(tampered, [leaf_cert])


def test_tampered_signature_built_by_hand_is_rejected(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, tamper_signature=True)
    with pytest.raises(PKCS7Error, match="signature does not verify"):
        verify_signed_data(der, [leaf_cert])


# --- algorithms ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("signature_algorithm", ["rsassa_pkcs1v15", "sha1_rsa"])
def test_rsa_with_sha1_is_rejected(
    signature_algorithm: str, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, digest="sha1", signature_algorithm=signature_algorithm)
    with pytest.raises(PKCS7Error, match="SHA-1 is only accepted with DSA keys"):
        verify_signed_data(der, [leaf_cert])


def test_ecdsa_with_sha1_is_rejected(ec_cert: x509.Certificate, ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = build(b"content", ec_cert, ec_key, digest="sha1", signature_algorithm="sha256_ecdsa")
    with pytest.raises(PKCS7Error, match="does not match its digest algorithm"):
        verify_signed_data(der, [ec_cert])
    with pytest.raises(PKCS7Error, match="SHA-1 is only accepted with DSA keys"):
        verify_signed_data(build(b"content", ec_cert, ec_key, digest="sha1"), [ec_cert])


@pytest.mark.parametrize("signature_algorithm", ["rsassa_pkcs1v15", "sha256_rsa"])
def test_rsa_sha256_by_hand_verifies(
    signature_algorithm: str, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, digest="sha256", signature_algorithm=signature_algorithm)
    verified = verify_signed_data(der, [leaf_cert])
    assert verified.digest_algorithm == "sha256"
    assert verified.signing_time == datetime(2021, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("digest", "signature_algorithm"),
    [("sha1", "sha1_dsa"), ("sha256", "sha256_dsa"), ("sha1", "dsa"), ("sha256", "dsa")],
)
def test_dsa_with_sha1_and_sha256_verifies(
    digest: str, signature_algorithm: str, dsa_cert: x509.Certificate, dsa_key: dsa.DSAPrivateKey
) -> None:
    der = build(b"content", dsa_cert, dsa_key, digest=digest, signature_algorithm=signature_algorithm)
    assert verify_signed_data(der, [dsa_cert]).digest_algorithm == digest


@pytest.mark.parametrize("digest", ["sha384", "sha512"])
def test_dsa_with_other_digests_is_rejected(
    digest: str, dsa_cert: x509.Certificate, dsa_key: dsa.DSAPrivateKey
) -> None:
    der = build(b"content", dsa_cert, dsa_key, digest=digest, signature_algorithm="dsa")
    with pytest.raises(PKCS7Error, match="not accepted with this key type"):
        verify_signed_data(der, [dsa_cert])


def test_ecdsa_verifies(ec_cert: x509.Certificate, ec_key: ec.EllipticCurvePrivateKey) -> None:
    der = builder_pkcs7(b"content", ec_cert, ec_key)
    assert verify_signed_data(der, [ec_cert]).digest_algorithm == "sha256"
    der = builder_pkcs7(b"content", ec_cert, ec_key, digest=hashes.SHA384())
    assert verify_signed_data(der, [ec_cert]).digest_algorithm == "sha384"


def test_rsa_key_below_2048_bits_is_rejected() -> None:
    key = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point of the test
    cert = make_cert("Small RSA", key, serial=77)
    with pytest.raises(PKCS7Error, match="RSA key is too small"):
        verify_signed_data(build(b"content", cert, key), [cert])


@pytest.mark.parametrize("digest", ["md5", "sha224"])
def test_unsupported_digest_is_rejected(
    digest: str, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, digest=digest)
    with pytest.raises(PKCS7Error, match="digest algorithm is not supported"):
        verify_signed_data(der, [leaf_cert])


@pytest.mark.parametrize(
    ("signature_algorithm", "message"),
    [
        ("sha256_dsa", "does not match the pinned certificate's key"),
        ("sha256_ecdsa", "does not match the pinned certificate's key"),
        ("sha384_rsa", "does not match its digest algorithm"),
        ("rsassa_pss", "signature algorithm is not supported"),
        ("ed25519", "signature algorithm is not supported"),
    ],
)
def test_mismatched_or_unknown_signature_algorithm_is_rejected(
    signature_algorithm: str, message: str, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, digest="sha256", signature_algorithm=signature_algorithm)
    with pytest.raises(PKCS7Error, match=message):
        verify_signed_data(der, [leaf_cert])


def test_unsupported_pinned_key_type_is_rejected(rsa_key: rsa.RSAPrivateKey) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_cert = (
        x509.CertificateBuilder()
        .subject_name(make_cert("Ed", rsa_key).subject)
        .issuer_name(make_cert("Ed", rsa_key).subject)
        .public_key(ed_key.public_key())
        .serial_number(55)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .sign(ed_key, None)
    )
    fake = make_cert("Ed", rsa_key, serial=55)  # same issuer and serial, so the SignerInfo names ed_cert
    der = build(b"content", fake, rsa_key)
    with pytest.raises(PKCS7Error, match="key type is not supported"):
        verify_signed_data(der, [ed_cert])


# --- validity dates are not checked --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        (datetime(2000, 1, 1, tzinfo=UTC), datetime(2001, 1, 1, tzinfo=UTC)),  # long expired
        (datetime(2090, 1, 1, tzinfo=UTC), datetime(2091, 1, 1, tzinfo=UTC)),  # not yet valid
    ],
)
def test_pinned_cert_outside_its_validity_still_verifies(
    not_before: datetime, not_after: datetime, rsa_key: rsa.RSAPrivateKey
) -> None:
    cert = make_cert("Dated Signer", rsa_key, serial=99, not_before=not_before, not_after=not_after)
    der = builder_pkcs7(b"content", cert, rsa_key)
    assert verify_signed_data(der, [cert]).signer_serial == 99


# --- structure and signed attributes -------------------------------------------------------------------


def test_detached_pkcs7_verifies_with_the_document(
    aws_document: bytes, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = builder_pkcs7(aws_document, leaf_cert, rsa_key, detached=True)
    assert verify_signed_data(der, [leaf_cert], document=aws_document).content == aws_document
    with pytest.raises(PKCS7Error, match="detached and no document was given"):
        verify_signed_data(der, [leaf_cert])
    with pytest.raises(PKCS7Error, match="message digest does not match"):
        verify_signed_data(der, [leaf_cert], document=aws_document + b" ")


def test_without_signed_attributes_is_rejected(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    # Signed directly over the content: valid CMS, but the message-digest check is required.
    der = build(b"content", leaf_cert, rsa_key, attributes=None)
    with pytest.raises(PKCS7Error, match="no signed attributes"):
        verify_signed_data(der, [leaf_cert])
    builder_der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"content")
        .add_signer(leaf_cert, rsa_key, hashes.SHA256())
        .sign(Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoAttributes])
    )
    with pytest.raises(PKCS7Error, match="no signed attributes"):
        verify_signed_data(builder_der, [leaf_cert])


def _digest(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ([{"type": "message_digest", "values": [_digest(b"content")]}], "no content-type signed attribute"),
        (
            [
                {"type": "content_type", "values": ["signed_data"]},
                {"type": "message_digest", "values": [_digest(b"content")]},
            ],
            "content-type signed attribute is not data",
        ),
        ([{"type": "content_type", "values": ["data"]}], "no message-digest signed attribute"),
        (
            [
                {"type": "content_type", "values": ["data"]},
                {"type": "message_digest", "values": [_digest(b"other")]},
            ],
            "message digest does not match",
        ),
        (
            [
                {"type": "content_type", "values": ["data"]},
                {"type": "message_digest", "values": [_digest(b"content")]},
                {"type": "message_digest", "values": [_digest(b"content")]},
            ],
            "repeats a signed attribute",
        ),
        (
            [
                {"type": "content_type", "values": ["data"]},
                {"type": "message_digest", "values": [_digest(b"content"), _digest(b"other")]},
            ],
            "without exactly one value",
        ),
    ],
)
def test_bad_signed_attributes_are_rejected(
    attributes: list[dict[str, object]], message: str, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    der = build(b"content", leaf_cert, rsa_key, attributes=attributes)
    with pytest.raises(PKCS7Error, match=message):
        verify_signed_data(der, [leaf_cert])


def test_minimal_signed_attributes_verify_without_signing_time(
    leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    attributes = [
        {"type": "content_type", "values": ["data"]},
        {"type": "message_digest", "values": [_digest(b"content")]},
    ]
    verified = verify_signed_data(build(b"content", leaf_cert, rsa_key, attributes=attributes), [leaf_cert])
    assert verified.signing_time is None


def test_encapsulated_content_must_be_data(leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey) -> None:
    der = build(b"content", leaf_cert, rsa_key, content_type="digested_data", detached=True)
    with pytest.raises(PKCS7Error, match="content is not of type data"):
        verify_signed_data(der, [leaf_cert], document=b"content")


def test_exactly_one_signer(
    leaf_cert: x509.Certificate,
    rsa_key: rsa.RSAPrivateKey,
    dsa_cert: x509.Certificate,
    dsa_key: dsa.DSAPrivateKey,
) -> None:
    two = signed_data(
        b"content",
        [signer_info(b"content", leaf_cert, rsa_key), signer_info(b"content", dsa_cert, dsa_key)],
    )
    with pytest.raises(PKCS7Error, match="exactly one signer"):
        verify_signed_data(two, [leaf_cert, dsa_cert])
    with pytest.raises(PKCS7Error, match="exactly one signer"):
        verify_signed_data(signed_data(b"content", []), [leaf_cert])


def test_not_signed_data_is_rejected(leaf_cert: x509.Certificate) -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"content"}).dump()
    with pytest.raises(PKCS7Error, match="not a SignedData"):
        verify_signed_data(data, [leaf_cert])


def test_error_messages_carry_no_key_material(
    aws_der: bytes, aws_cert: x509.Certificate, leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey
) -> None:
    signature = _signature_of(aws_der)
    tampered = flip_byte_in(aws_der, signature, len(signature) - 1)
    for der, pins in [(tampered, [aws_cert]), (builder_pkcs7(b"x", leaf_cert, rsa_key), [aws_cert])]:
        with pytest.raises(PKCS7Error) as caught:
            verify_signed_data(der, pins)
        text = str(caught.value)
        assert text.startswith(("the PKCS7", "SHA-1"))
        assert signature.hex() not in text
        assert "716756199562" not in text


# --- loading the text ----------------------------------------------------------------------------------


def test_bare_base64_with_76_char_lines_loads(aws_pkcs7_text: str, aws_der: bytes) -> None:
    lines = aws_pkcs7_text.strip().splitlines()
    assert {len(line) for line in lines[:-1]} == {76}
    assert load_pkcs7(aws_pkcs7_text) == aws_der
    assert aws_der == base64.b64decode("".join(lines))


def test_pem_armour_and_bare_base64_load_the_same(aws_pkcs7_text: str, aws_der: bytes) -> None:
    body = aws_pkcs7_text.strip()
    assert load_pkcs7(f"-----BEGIN PKCS7-----\n{body}\n-----END PKCS7-----\n") == aws_der
    crlf = f"-----BEGIN PKCS7-----\r\n{body}\r\n-----END PKCS7-----\r\n".replace("\n", "\r\n")
    assert load_pkcs7(crlf) == aws_der
    one_line = "".join(body.split())
    assert load_pkcs7(one_line) == aws_der
    assert load_pkcs7(f"-----BEGIN PKCS7-----{one_line}-----END PKCS7-----") == aws_der


def test_whitespace_anywhere_is_ignored(aws_pkcs7_text: str, aws_der: bytes) -> None:
    compact = "".join(aws_pkcs7_text.split())
    spaced = "  \t".join(compact[i : i + 7] for i in range(0, len(compact), 7))
    assert load_pkcs7("\n " + spaced + " \n") == aws_der


def test_builder_pem_output_loads(leaf_cert: x509.Certificate, rsa_key: rsa.RSAPrivateKey) -> None:
    pem = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"content")
        .add_signer(leaf_cert, rsa_key, hashes.SHA256())
        .sign(Encoding.PEM, [pkcs7.PKCS7Options.Binary])
    )
    der = load_pkcs7(pem.decode())
    assert verify_signed_data(der, [leaf_cert]).content == b"content"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "not base64!!",
        "MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUAMIAGCSqGSIb3DQEHAaCAJIAEggGmewo",  # 75 chars: truncated
        "MIAG=CSq",
        "MIAGCSq==",
        "MIAG\u00e9SqG",
        "-----BEGIN PKCS7-----\nMIAGCSqG\n",
        "-----BEGIN PKCS7-----\n-----END PKCS7-----",
        "-----BEGIN PKCS7-----",
        "junk -----BEGIN PKCS7-----\nMIAGCSqG\n-----END PKCS7-----",
        "-----BEGIN PKCS7-----\nMIAGCSqG\n-----END PKCS7----- junk",
        "-----BEGIN CERTIFICATE-----\nMIAGCSqG\n-----END CERTIFICATE-----",
        "-----BEGIN PKCS7-----\nProc-Type: 4,ENCRYPTED\nMIAGCSqG\n-----END PKCS7-----",
    ],
)
def test_bad_text_is_a_pkcs7_error(text: str) -> None:
    with pytest.raises(PKCS7Error):
        load_pkcs7(text)


def test_non_string_and_oversized_text_are_rejected() -> None:
    with pytest.raises(PKCS7Error, match="must be a string"):
        load_pkcs7(b"MIAG")  # type: ignore[arg-type]
    with pytest.raises(PKCS7Error, match="too large"):
        load_pkcs7("A" * (MAX_PKCS7_TEXT + 4))


def test_truncated_base64_that_still_decodes_fails_verification(
    aws_pkcs7_text: str, aws_cert: x509.Certificate
) -> None:
    compact = "".join(aws_pkcs7_text.split())
    for cut in (4, 76, 400, len(compact) - 4):
        der = load_pkcs7(compact[:cut])
        with pytest.raises(PKCS7Error):
            verify_signed_data(der, [aws_cert])
