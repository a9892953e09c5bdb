"""signing.py round trips, and verify_signature's rules: method must fit the key, sizes, never raising."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from notary.tuf.keys import PublicKey, verify_signature
from notary.tuf.signing import ALGORITHMS, generate_private_key, public_key_for, sign
from tests.support.certificates import certificate, pem

DATA = b'{"_type":"Targets","expires":"2029-11-20T20:53:01.105037402Z","version":3}'
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _spki(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _raw_ecdsa(private: ec.EllipticCurvePrivateKey, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(algorithm)))
    size = (private.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


@pytest.fixture(scope="module")
def rsa2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    return {algorithm: generate_private_key(algorithm) for algorithm in ALGORITHMS}


# --- signing.py ------------------------------------------------------------------------------------


def test_algorithms() -> None:
    assert ALGORITHMS == ("ecdsa", "ed25519", "rsa")


@pytest.mark.parametrize(
    ("algorithm", "keytype", "method", "sig_length"),
    [("ecdsa", "ecdsa", "ecdsa", 64), ("ed25519", "ed25519", "eddsa", 64), ("rsa", "rsa", "rsapss", 384)],
)
def test_sign_verify_round_trip(
    generated: dict[str, bytes], algorithm: str, keytype: str, method: str, sig_length: int
) -> None:
    private = generated[algorithm]
    public = public_key_for(private)
    assert public.keytype == keytype
    got_method, signature = sign(private, DATA)
    assert got_method == method
    assert len(signature) == sig_length
    assert verify_signature(public, method, signature, DATA)
    assert not verify_signature(public, method, signature, DATA + b" ")
    assert not verify_signature(public, method, signature[:-1] + bytes([signature[-1] ^ 1]), DATA)


def test_generated_keys_are_pkcs8_der_of_the_right_kind(generated: dict[str, bytes]) -> None:
    ec_key = serialization.load_der_private_key(generated["ecdsa"], password=None)
    assert isinstance(ec_key, ec.EllipticCurvePrivateKey)
    assert isinstance(ec_key.curve, ec.SECP256R1)
    rsa_key = serialization.load_der_private_key(generated["rsa"], password=None)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 3072
    ed_key = serialization.load_der_private_key(generated["ed25519"], password=None)
    assert isinstance(ed_key, ed25519.Ed25519PrivateKey)
    for der in generated.values():
        assert der[:1] == b"\x30"  # DER SEQUENCE, not PEM text
    assert generate_private_key("ecdsa") != generated["ecdsa"]  # fresh every time


def test_public_key_for_encodings(generated: dict[str, bytes]) -> None:
    ec_private = serialization.load_der_private_key(generated["ecdsa"], password=None)
    assert isinstance(ec_private, ec.EllipticCurvePrivateKey)
    assert public_key_for(generated["ecdsa"]).public == _b64(_spki(ec_private.public_key()))
    ed_private = serialization.load_der_private_key(generated["ed25519"], password=None)
    assert isinstance(ed_private, ed25519.Ed25519PrivateKey)
    raw = ed_private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert public_key_for(generated["ed25519"]).public == _b64(raw)
    rsa_private = serialization.load_der_private_key(generated["rsa"], password=None)
    assert isinstance(rsa_private, rsa.RSAPrivateKey)
    assert public_key_for(generated["rsa"]).public == _b64(_spki(rsa_private.public_key()))


def test_ecdsa_signature_is_raw_r_s_over_sha256(generated: dict[str, bytes]) -> None:
    private = serialization.load_der_private_key(generated["ecdsa"], password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    _, signature = sign(generated["ecdsa"], DATA)
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    # checked with cryptography directly, independent of verify_signature
    private.public_key().verify(encode_dss_signature(r, s), DATA, ec.ECDSA(hashes.SHA256()))


def test_rsa_signature_is_pss_sha256_salt_32(generated: dict[str, bytes]) -> None:
    private = serialization.load_der_private_key(generated["rsa"], password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    _, signature = sign(generated["rsa"], DATA)
    private.public_key().verify(signature, DATA, PSS, hashes.SHA256())


def test_generate_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        generate_private_key("dsa")
    with pytest.raises(ValueError):
        generate_private_key("ECDSA")


@pytest.mark.parametrize("der", [b"", b"garbage", os.urandom(100)])
def test_sign_and_public_key_for_reject_garbage(der: bytes) -> None:
    with pytest.raises(ValueError):
        sign(der, DATA)
    with pytest.raises(ValueError):
        public_key_for(der)


def test_sign_rejects_curves_go_cannot_read() -> None:
    der = ec.generate_private_key(ec.SECP256K1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError):
        sign(der, DATA)


# --- verify_signature rules ------------------------------------------------------------------------


def test_method_must_fit_key_type(generated: dict[str, bytes]) -> None:
    signatures = {algorithm: sign(der, DATA) for algorithm, der in generated.items()}
    keys = {algorithm: public_key_for(der) for algorithm, der in generated.items()}
    for algorithm, key in keys.items():
        method, signature = signatures[algorithm]
        assert verify_signature(key, method, signature, DATA)
        for other in ("ecdsa", "eddsa", "rsapss", "rsapkcs1v15", "pycrypto-pkcs#1 pss"):
            if other != method:
                assert not verify_signature(key, other, signature, DATA), (algorithm, other)


@pytest.mark.parametrize(
    "method", ["", "none", "ecdsa-sha256", "ed25519", "rsa", "rsassa-pss", " ecdsa", "ecdsa "]
)
def test_unknown_method_names(generated: dict[str, bytes], method: str) -> None:
    for der in generated.values():
        _, signature = sign(der, DATA)
        assert not verify_signature(public_key_for(der), method, signature, DATA)


def test_method_is_case_insensitive(generated: dict[str, bytes]) -> None:
    _, signature = sign(generated["ecdsa"], DATA)
    assert verify_signature(public_key_for(generated["ecdsa"]), "ECDSA", signature, DATA)
    _, signature = sign(generated["rsa"], DATA)
    assert verify_signature(public_key_for(generated["rsa"]), "RSAPSS", signature, DATA)


def test_ecdsa_signature_length_must_be_exact(generated: dict[str, bytes]) -> None:
    key = public_key_for(generated["ecdsa"])
    _, signature = sign(generated["ecdsa"], DATA)
    assert not verify_signature(key, "ecdsa", signature[:-1], DATA)
    assert not verify_signature(key, "ecdsa", b"\x00" + signature[:-1], DATA)
    assert not verify_signature(key, "ecdsa", signature + b"\x00", DATA)
    assert not verify_signature(key, "ecdsa", b"", DATA)
    # the DER form cryptography produces is not what notary sends
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert not verify_signature(key, "ecdsa", encode_dss_signature(r, s), DATA)


def test_ecdsa_p384_uses_sha256_and_96_byte_signatures() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    key = PublicKey(keytype="ecdsa", public=_b64(_spki(private.public_key())))
    good = _raw_ecdsa(private, DATA, hashes.SHA256())
    assert len(good) == 96
    assert verify_signature(key, "ecdsa", good, DATA)
    assert not verify_signature(key, "ecdsa", _raw_ecdsa(private, DATA, hashes.SHA384()), DATA)


def test_ecdsa_signature_with_zero_r_or_s_is_refused() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    key = PublicKey(keytype="ecdsa", public=_b64(_spki(private.public_key())))
    assert not verify_signature(key, "ecdsa", bytes(64), DATA)
    assert not verify_signature(key, "ecdsa", b"\xff" * 64, DATA)


def test_rsa_pss_and_pkcs1v15_at_2048_bits(rsa2048: rsa.RSAPrivateKey) -> None:
    key = PublicKey(keytype="rsa", public=_b64(_spki(rsa2048.public_key())))
    pss = rsa2048.sign(DATA, PSS, hashes.SHA256())
    pkcs = rsa2048.sign(DATA, padding.PKCS1v15(), hashes.SHA256())
    assert verify_signature(key, "rsapss", pss, DATA)
    assert verify_signature(key, "rsapkcs1v15", pkcs, DATA)
    assert not verify_signature(key, "rsapss", pkcs, DATA)
    assert not verify_signature(key, "rsapkcs1v15", pss, DATA)
    # SHA-256 only
    assert not verify_signature(
        key, "rsapkcs1v15", rsa2048.sign(DATA, padding.PKCS1v15(), hashes.SHA512()), DATA
    )


def test_rsa_pss_salt_length_must_be_32(rsa2048: rsa.RSAPrivateKey) -> None:
    key = PublicKey(keytype="rsa", public=_b64(_spki(rsa2048.public_key())))
    for salt in (0, 20, padding.PSS.MAX_LENGTH):
        other = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt)
        assert not verify_signature(key, "rsapss", rsa2048.sign(DATA, other, hashes.SHA256()), DATA), salt


def test_rsa_below_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    key = PublicKey(keytype="rsa", public=_b64(_spki(small.public_key())))
    pss = small.sign(DATA, PSS, hashes.SHA256())
    small.public_key().verify(pss, DATA, PSS, hashes.SHA256())  # the signature itself is fine
    assert not verify_signature(key, "rsapss", pss, DATA)
    assert not verify_signature(
        key, "rsapkcs1v15", small.sign(DATA, padding.PKCS1v15(), hashes.SHA256()), DATA
    )


def test_x509_keys_verify_with_their_methods(rsa2048: rsa.RSAPrivateKey) -> None:
    ec_private = ec.generate_private_key(ec.SECP256R1())
    ec_key = PublicKey(keytype="ecdsa-x509", public=_b64(pem(certificate("example.com/app", ec_private))))
    assert verify_signature(ec_key, "ecdsa", _raw_ecdsa(ec_private, DATA, hashes.SHA256()), DATA)
    rsa_key = PublicKey(keytype="rsa-x509", public=_b64(pem(certificate("example.com/app", rsa2048))))
    pss = rsa2048.sign(DATA, PSS, hashes.SHA256())
    assert verify_signature(rsa_key, "rsapss", pss, DATA)
    assert verify_signature(
        rsa_key, "rsapkcs1v15", rsa2048.sign(DATA, padding.PKCS1v15(), hashes.SHA256()), DATA
    )
    assert not verify_signature(rsa_key, "pycrypto-pkcs#1 pss", pss, DATA)
    assert not verify_signature(rsa_key, "ecdsa", pss, DATA)


def test_pycrypto_method_is_for_pem_rsa_keys_only(rsa2048: rsa.RSAPrivateKey) -> None:
    public_pem = rsa2048.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem_key = PublicKey(keytype="rsa", public=_b64(public_pem))
    der_key = PublicKey(keytype="rsa", public=_b64(_spki(rsa2048.public_key())))
    pss = rsa2048.sign(DATA, PSS, hashes.SHA256())
    assert verify_signature(pem_key, "pycrypto-pkcs#1 pss", pss, DATA)
    assert verify_signature(pem_key, "PyCrypto-PKCS#1 PSS", pss, DATA)
    assert not verify_signature(pem_key, "pycrypto-pkcs#1 pss", pss, DATA + b"x")
    # as in notary: DER rsa keys are not pycrypto keys, and PEM rsa keys are not rsapss keys
    assert not verify_signature(der_key, "pycrypto-pkcs#1 pss", pss, DATA)
    assert not verify_signature(pem_key, "rsapss", pss, DATA)
    assert verify_signature(der_key, "rsapss", pss, DATA)


def test_never_raises_on_garbage(generated: dict[str, bytes]) -> None:
    keys = [public_key_for(der) for der in generated.values()]
    keys += [
        PublicKey(keytype="ecdsa", public=_b64(os.urandom(91))),
        PublicKey(
            keytype="rsa", public=_b64(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        ),
        PublicKey(keytype="ed25519", public=_b64(os.urandom(31))),
        PublicKey(keytype="ecdsa-x509", public=_b64(os.urandom(200))),
        PublicKey(
            keytype="rsa-x509", public=_b64(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
        ),
    ]
    methods = ["ecdsa", "eddsa", "rsapss", "rsapkcs1v15", "pycrypto-pkcs#1 pss", "", "\x00"]
    for key in keys:
        for method in methods:
            for length in (0, 1, 32, 63, 64, 65, 96, 256, 384, 512):
                assert not verify_signature(key, method, os.urandom(length), DATA)


def test_never_raises_on_wrong_argument_types(generated: dict[str, bytes]) -> None:
    key = public_key_for(generated["ecdsa"])
    _, signature = sign(generated["ecdsa"], DATA)
    assert not verify_signature(key, None, signature, DATA)  # type: ignore[arg-type]
    assert not verify_signature(key, "ecdsa", base64.b64encode(signature).decode(), DATA)  # type: ignore[arg-type]
    assert not verify_signature(key, "ecdsa", signature, DATA.decode())  # type: ignore[arg-type]
    assert not verify_signature(key.to_dict(), "ecdsa", signature, DATA)  # type: ignore[arg-type]
    # bytes-like inputs are fine
    assert verify_signature(key, "ecdsa", bytearray(signature), memoryview(DATA))  # type: ignore[arg-type]
