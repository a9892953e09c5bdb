"""PublicKey: parsing, key ids (equal to the Go client's), certificates, crypto key decoding."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from notary.tuf.canonical import encode_canonical
from notary.tuf.keys import KEY_TYPES, InvalidKeyError, PublicKey
from tests.support.certificates import certificate, pem

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notary"
GUN = "example.com/interop/app1"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_bytes())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _root_files() -> list[Path]:
    return sorted(FIXTURES.glob("upload-*-root.json"))


def _all_fixture_keys() -> list[tuple[str, dict[str, Any]]]:
    """(keyid, key object) from every root's keys and every targets file's delegation keys."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_bytes())
        if not (isinstance(data, dict) and "signed" in data):
            continue
        signed = data["signed"]
        found += list(signed.get("keys", {}).items())
        found += list((signed.get("delegations") or {}).get("keys", {}).items())
    return found


def test_root_fixtures_present() -> None:
    assert len(_root_files()) == 6


@pytest.mark.parametrize("path", _root_files(), ids=lambda p: p.name)
def test_root_key_ids_equal_computed_ids(path: Path) -> None:
    keys = json.loads(path.read_bytes())["signed"]["keys"]
    assert len(keys) >= 4
    for key_id, value in keys.items():
        assert PublicKey.from_dict(value).key_id == key_id


def test_every_fixture_key_id_is_computed_exactly() -> None:
    keys = _all_fixture_keys()
    assert len({key_id for key_id, _ in keys}) == 10
    types = set()
    for key_id, value in keys:
        key = PublicKey.from_dict(value)
        types.add(key.keytype)
        assert key.key_id == key_id
        # independently: hex SHA-256 of the canonical JSON of the key object as it appears in the file
        assert hashlib.sha256(encode_canonical(value)).hexdigest() == key_id
        key.crypto_key()  # every key in real metadata decodes
    assert types == {"ecdsa", "ecdsa-x509", "ed25519"}


def test_key_id_literal_vector() -> None:
    key = PublicKey(keytype="ed25519", public="3VAbkzkHLSgn9fP2YPHn6e4m8u9e9AP5IYCyHTx/e4U=")
    literal = (
        b'{"keytype":"ed25519","keyval":{"private":null,'
        b'"public":"3VAbkzkHLSgn9fP2YPHn6e4m8u9e9AP5IYCyHTx/e4U="}}'
    )
    assert key.key_id == hashlib.sha256(literal).hexdigest()
    # it is the reference server's timestamp key of the first root
    assert key.key_id == next(
        k
        for k, v in _load("upload-init_publish-root.json")["signed"]["keys"].items()
        if v["keytype"] == "ed25519"
    )


def test_to_dict_shape() -> None:
    key = PublicKey(keytype="ed25519", public=_b64(bytes(32)))
    assert key.to_dict() == {"keytype": "ed25519", "keyval": {"private": None, "public": _b64(bytes(32))}}


@pytest.mark.parametrize(
    "name", ["key-GET-timestamp.json", "key-POST-snapshot.json", "key-POST-timestamp.json"]
)
def test_to_json_bytes_reproduces_server_key_answer(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    key = PublicKey.from_dict(json.loads(raw))
    assert key.to_json_bytes() == raw
    assert key.to_json_bytes().index(b'"public"') < key.to_json_bytes().index(b'"private"')


def test_key_get_timestamp_is_the_served_timestamp_key() -> None:
    raw = (FIXTURES / "key-GET-timestamp.json").read_bytes()
    key = PublicKey.from_dict(json.loads(raw))
    served = _load("served-list__empty_-timestamp.json")
    assert served["signatures"][0]["keyid"] == key.key_id


def test_x509_root_key_certificate_and_canonical_id() -> None:
    keys = _load("upload-init_publish-root.json")["signed"]["keys"]
    ((key_id, value),) = [(k, v) for k, v in keys.items() if v["keytype"] == "ecdsa-x509"]
    key = PublicKey.from_dict(value)
    cert = key.certificate()
    assert cert is not None
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GUN
    assert key.key_id == key_id
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    plain_id = hashlib.sha256(
        b'{"keytype":"ecdsa","keyval":{"private":null,"public":"' + base64.b64encode(spki) + b'"}}'
    ).hexdigest()
    assert key.canonical_key_id == plain_id
    assert key.canonical_key_id != key.key_id
    assert PublicKey(keytype="ecdsa", public=_b64(spki)).key_id == plain_id
    assert isinstance(key.crypto_key(), ec.EllipticCurvePublicKey)


@pytest.mark.parametrize("keytype", ["ecdsa", "ed25519"])
def test_plain_keys_have_no_certificate_and_canonical_id_is_key_id(keytype: str) -> None:
    (value,) = [
        v
        for v in _load("upload-init_publish-root.json")["signed"]["keys"].values()
        if v["keytype"] == keytype
    ][:1]
    key = PublicKey.from_dict(value)
    assert key.certificate() is None
    assert key.canonical_key_id == key.key_id


def test_rsa_x509_canonical_id_uses_rsa_type() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = PublicKey(keytype="rsa-x509", public=_b64(pem(certificate("gun", private))))
    assert key.canonical_key_id == PublicKey(keytype="rsa", public=_b64(_spki(private.public_key()))).key_id
    assert isinstance(key.crypto_key(), rsa.RSAPublicKey)


def test_crypto_key_types() -> None:
    ec_private = ec.generate_private_key(ec.SECP256R1())
    assert isinstance(
        PublicKey(keytype="ecdsa", public=_b64(_spki(ec_private.public_key()))).crypto_key(),
        ec.EllipticCurvePublicKey,
    )
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    raw = ed.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    loaded = PublicKey(keytype="ed25519", public=_b64(raw)).crypto_key()
    assert isinstance(loaded, ed25519.Ed25519PublicKey)
    assert loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw


def test_from_dict_accepts_absent_private_and_ignores_extra_members() -> None:
    public = _b64(bytes(range(32)))
    a = PublicKey.from_dict({"keytype": "ed25519", "keyval": {"public": public}})
    b = PublicKey.from_dict(
        {"keytype": "ed25519", "keyval": {"public": public, "private": None, "x": 1}, "y": 2}
    )
    assert a == b
    assert a.key_id == b.key_id
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "ed25519",
        {},
        {"keyval": {"public": "AAAA"}},
        {"keytype": "ed25519"},
        {"keytype": "ed25519", "keyval": None},
        {"keytype": "ed25519", "keyval": "AAAA"},
        {"keytype": "ED25519", "keyval": {"public": "AAAA"}},
        {"keytype": "dsa", "keyval": {"public": "AAAA"}},
        {"keytype": 1, "keyval": {"public": "AAAA"}},
        {"keytype": "ed25519", "keyval": {}},
        {"keytype": "ed25519", "keyval": {"public": None}},
        {"keytype": "ed25519", "keyval": {"public": 5}},
        {"keytype": "ed25519", "keyval": {"public": ""}},
        {"keytype": "ed25519", "keyval": {"public": "AAAA", "private": "AAAA"}},
        {"keytype": "ed25519", "keyval": {"public": "AAAA", "private": ""}},
        {"keytype": "ed25519", "keyval": {"public": "not base64!"}},
        {"keytype": "ed25519", "keyval": {"public": "AAA"}},
        {"keytype": "ed25519", "keyval": {"public": "QR=="}},  # non-zero stray bits: canonical is QQ==
        {"keytype": "ed25519", "keyval": {"public": "AAAA\nAAAA"}},
        {"keytype": "ed25519", "keyval": {"public": "AAAA-_"}},
        {"keytype": "ed25519", "keyval": {"public": "éé=="}},
    ],
)
def test_from_dict_rejects(data: object) -> None:
    with pytest.raises(InvalidKeyError):
        PublicKey.from_dict(data)


def test_constructor_validates_too() -> None:
    with pytest.raises(InvalidKeyError):
        PublicKey(keytype="x509", public="AAAA")
    with pytest.raises(InvalidKeyError):
        PublicKey(keytype="ecdsa", public="QR==")
    assert issubclass(InvalidKeyError, ValueError)
    assert KEY_TYPES == ("ecdsa", "ecdsa-x509", "ed25519", "rsa", "rsa-x509")


def test_public_key_is_frozen() -> None:
    key = PublicKey(keytype="ed25519", public=_b64(bytes(32)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.keytype = "ecdsa"  # type: ignore[misc]


def _bad_material() -> list[tuple[str, bytes]]:
    ec_private = ec.generate_private_key(ec.SECP256R1())
    rsa_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_spki = _spki(ec_private.public_key())
    ec_pem = ec_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    compressed = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(),
        ec_private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        ),
    )
    # DER SPKI for a compressed point: cryptography would load it, Go would not.
    compressed_spki = bytes.fromhex(
        "3039301306072a8648ce3d020106082a8648ce3d030107032200"
    ) + compressed.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    pkcs1 = rsa_private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.PKCS1
    )
    k1 = _spki(ec.generate_private_key(ec.SECP256K1()).public_key())
    ed_spki = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return [
        ("ecdsa", bytes(range(32))),  # raw bytes, not DER
        ("ecdsa", _spki(rsa_private.public_key())),  # an RSA key under the ecdsa type
        ("ecdsa", ed_spki),  # an Ed25519 SPKI under the ecdsa type
        ("ecdsa", ec_spki + b"\x00"),  # trailing garbage
        ("ecdsa", ec_pem),  # Go parses ecdsa keys as DER only
        ("ecdsa", compressed_spki),
        ("ecdsa", k1),  # secp256k1: not a curve Go parses
        ("rsa", ec_spki),
        ("rsa", pkcs1),  # PKCS#1 instead of SPKI
        ("ed25519", bytes(31)),
        ("ed25519", bytes(33)),
        ("ed25519", ed_spki),
        ("ecdsa-x509", ec_spki),  # not PEM
        ("ecdsa-x509", ec_pem),  # PEM, but not a certificate
        # the cert is not the first PEM block, and Go reads only the first
        ("ecdsa-x509", ec_pem + pem(certificate("gun", ec_private))),
        ("ecdsa-x509", pem(certificate("gun", rsa_private))),  # RSA cert under ecdsa-x509
        ("rsa-x509", pem(certificate("gun", ec_private))),
        ("ecdsa-x509", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    ]


@pytest.mark.parametrize(("keytype", "material"), _bad_material())
def test_crypto_key_rejects_undecodable_material(keytype: str, material: bytes) -> None:
    key = PublicKey(keytype=keytype, public=_b64(material))
    with pytest.raises(InvalidKeyError):
        key.crypto_key()


def test_x509_certificate_errors_raise_invalid_key() -> None:
    key = PublicKey(keytype="ecdsa-x509", public=_b64(b"not a pem"))
    with pytest.raises(InvalidKeyError):
        key.certificate()
    with pytest.raises(InvalidKeyError):
        _ = key.canonical_key_id


def test_pem_scan_is_linear_on_hostile_input() -> None:
    # a regex with backtracking would take minutes here; the linear scan answers at once
    material = b"-----BEGIN CERTIFICATE-----\n" * 40_000 + b"-----END CERTIFICAT-----\n"
    started = time.perf_counter()
    with pytest.raises(InvalidKeyError):
        PublicKey(keytype="ecdsa-x509", public=_b64(material)).crypto_key()
    assert time.perf_counter() - started < 1.0


def test_pem_text_before_the_block_is_skipped() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = PublicKey(keytype="ecdsa-x509", public=_b64(b"subject=CN gun\n" + pem(certificate("gun", private))))
    assert _spki(key.crypto_key()) == _spki(private.public_key())  # type: ignore[arg-type]


def test_pem_certificate_with_crlf_and_following_chain_is_read() -> None:
    first = ec.generate_private_key(ec.SECP256R1())
    second = ec.generate_private_key(ec.SECP256R1())
    chain = pem(certificate("gun", first)).replace(b"\n", b"\r\n") + pem(certificate("gun", second))
    key = PublicKey(keytype="ecdsa-x509", public=_b64(chain))
    assert _spki(key.crypto_key()) == _spki(first.public_key())  # type: ignore[arg-type]
