"""notary.auth.trust.libtrust_key_id, the ``kid`` the token service writes and the verifier looks bundle keys
up by, checked against values computed without our code."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from notary.auth.trust import libtrust_key_id

# A fixed P-256 key and its libtrust key id, computed with openssl and coreutils, not with our code:
#   openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | head -c 30 | base32
FIXED_KEY_PEM = b"""-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgrcY9dSSfQruYn5FH
m+NBzgrLqb+mBWtIYYbIH6wAXOmhRANCAAS0UMGj4oGivdcqocBlC98WrYh5w8BL
t3Wp01WLKi3t+g9eEXfltsGhnNe610fm1hApFcYPFB/WoeooZcc0JZo7
-----END PRIVATE KEY-----
"""
FIXED_KEY_ID = "ZFDK:2RWR:BAW2:RW7I:IOYM:GTQW:B7E7:2TDM:LHHL:3X7E:ZDS4:D46O"


def test_libtrust_key_id_of_a_fixed_key() -> None:
    key = serialization.load_pem_private_key(FIXED_KEY_PEM, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert libtrust_key_id(key.public_key()) == FIXED_KEY_ID


def spelled_out_key_id(public_key: rsa.RSAPublicKey) -> str:
    """The algorithm written out step by step: 240 bits of SHA-256 of the SPKI, base32, 4-char groups."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    bits = "".join(f"{byte:08b}" for byte in hashlib.sha256(der).digest())[:240]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    characters = "".join(alphabet[int(bits[i : i + 5], 2)] for i in range(0, 240, 5))
    return ":".join(characters[i : i + 4] for i in range(0, 48, 4))


def test_libtrust_key_id_of_an_rsa_key_spelled_out() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = libtrust_key_id(key.public_key())
    assert kid == spelled_out_key_id(key.public_key())
    assert len(kid.split(":")) == 12


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("base32") is None, reason="needs openssl")
def test_libtrust_key_id_matches_openssl() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pipeline = "openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | head -c 30 | base32 -w0"
    encoded = subprocess.run(
        ["sh", "-c", pipeline], input=pem, capture_output=True, check=True, timeout=30
    ).stdout.decode()
    assert libtrust_key_id(key.public_key()).replace(":", "") == encoded
