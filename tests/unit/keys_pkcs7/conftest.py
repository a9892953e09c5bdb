"""The genuine AWS test data (copied into tests/fixtures/aws so the project needs nothing outside it) and
self-made keys and certificates. Keys are generated once per session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from notary.keys.pkcs7 import load_pkcs7
from tests.unit.keys_pkcs7._cms import make_cert

AWS = Path(__file__).resolve().parents[2] / "fixtures" / "aws"
AWS_SIGNING_TIME = datetime(2015, 11, 18, 19, 1, 18, tzinfo=UTC)
AWS_SERIAL = 0x96BA48D9E55E1A67


@pytest.fixture(scope="session")
def aws_cert() -> x509.Certificate:
    return x509.load_pem_x509_certificate((AWS / "aws-dsa-public-regions.pem").read_bytes())


@pytest.fixture(scope="session")
def aws_pkcs7_text() -> str:
    return (AWS / "iid-2015.pkcs7.b64").read_text()


@pytest.fixture(scope="session")
def aws_der(aws_pkcs7_text: str) -> bytes:
    return load_pkcs7(aws_pkcs7_text)


@pytest.fixture(scope="session")
def aws_document() -> bytes:
    return (AWS / "iid-2015.document.json").read_bytes()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="session")
def ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="session")
def ca_cert(ca_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_cert("Test Identity CA", ca_key, serial=1, ca=True)


@pytest.fixture(scope="session")
def leaf_cert(
    rsa_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, ca_key: rsa.RSAPrivateKey
) -> x509.Certificate:
    """An RSA-2048 signing certificate issued by the self-made CA."""
    return make_cert("Test Identity Signer", rsa_key, issuer=ca_cert, issuer_key=ca_key, serial=2)


@pytest.fixture(scope="session")
def dsa_key() -> dsa.DSAPrivateKey:
    return dsa.generate_private_key(2048)


@pytest.fixture(scope="session")
def dsa_cert(dsa_key: dsa.DSAPrivateKey) -> x509.Certificate:
    return make_cert("Test DSA Signer", dsa_key, serial=3)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ec_cert(ec_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return make_cert("Test ECDSA Signer", ec_key, serial=4)
