"""check_root_certificate / check_rotation_certificate: which keys may be (or have been) root keys."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes

from notary.tuf.certs import check_root_certificate, check_rotation_certificate, cn_matches_gun
from notary.tuf.keys import PublicKey
from tests.support.tuf_builder import Key
from tests.unit.tuf_checks.helpers import CERT_FROM, CERT_TO, GUN, NOW, bundle_key, certificate_key, root_key

# ---------------------------------------------------------------------------------------------- accepted


def test_ecdsa_root_certificate_for_the_gun_is_accepted() -> None:
    key = root_key()
    assert key.public.keytype == "ecdsa-x509"
    assert check_root_certificate(key.public, GUN, NOW) is None
    assert check_rotation_certificate(key.public, NOW) is None


def test_rsa_2048_root_certificate_is_accepted() -> None:
    key = root_key(algorithm="rsa", rsa_bits=2048)
    assert key.public.keytype == "rsa-x509"
    assert check_root_certificate(key.public, GUN, NOW) is None


def test_leaf_followed_by_a_ca_certificate_is_accepted() -> None:
    _, leaf, private = certificate_key()
    _, ca, _ = certificate_key(common_name="Some CA", ca=True)
    assert check_root_certificate(bundle_key([leaf, ca], private).public, GUN, NOW) is None


# ---------------------------------------------------------------------------------------- key type / parse


@pytest.mark.parametrize("algorithm", ["ecdsa", "ed25519", "rsa"])
def test_plain_keys_are_not_root_certificates(algorithm: str) -> None:
    key = Key.generate(algorithm)
    reason = check_root_certificate(key.public, GUN, NOW)
    assert reason is not None
    assert "not an X.509 certificate" in reason
    assert check_rotation_certificate(key.public, NOW) is not None


def test_x509_key_without_a_certificate_is_refused() -> None:
    key = PublicKey("ecdsa-x509", base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n").decode())
    assert check_root_certificate(key, GUN, NOW) is not None
    assert check_rotation_certificate(key, NOW) is not None


def test_certificate_of_the_wrong_family_is_refused() -> None:
    rsa_cert = root_key(algorithm="rsa").public
    mislabelled = PublicKey("ecdsa-x509", rsa_cert.public)
    assert check_root_certificate(mislabelled, GUN, NOW) is not None
    assert check_rotation_certificate(mislabelled, NOW) is not None


# ------------------------------------------------------------------------------------------------ CN


def test_certificate_for_another_gun_is_refused() -> None:
    reason = check_root_certificate(root_key("example.com/other").public, GUN, NOW)
    assert reason is not None
    assert "does not match the GUN" in reason


def test_cn_is_compared_exactly() -> None:
    assert check_root_certificate(root_key("example.com/ap").public, GUN, NOW) is not None
    assert check_root_certificate(root_key("Example.com/app").public, GUN, NOW) is not None
    assert check_root_certificate(root_key(GUN + "/sub").public, GUN, NOW) is not None


def test_wildcard_cn_covers_guns_with_its_prefix() -> None:
    key = root_key("example.com/*").public
    assert check_root_certificate(key, GUN, NOW) is None
    assert check_root_certificate(key, "example.com/other/deep", NOW) is None
    assert check_root_certificate(key, "example.org/app", NOW) is not None


@pytest.mark.parametrize(
    ("cn", "gun", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/bc", False),
        ("a/*", "a/bc", True),
        ("a/b*", "a/bc", True),
        ("a/b**", "a/bc", True),  # notary trims every trailing "*"
        ("a/b*", "a/c", False),
        ("*", "anything", True),
        ("a*/b", "a/b", False),  # only a trailing * is a wildcard
    ],
)
def test_cn_matching(cn: str, gun: str, expected: bool) -> None:
    assert cn_matches_gun(cn, gun) is expected


def test_certificate_without_a_cn_is_refused() -> None:
    key, _, _ = certificate_key(common_name=None)
    assert check_root_certificate(key.public, GUN, NOW) == "certificate has no common name"


def test_rotation_certificates_are_not_checked_for_the_cn() -> None:
    assert check_rotation_certificate(root_key("example.com/other").public, NOW) is None


# ------------------------------------------------------------------------------------------------ CA


def test_ca_certificate_is_refused() -> None:
    key = root_key(is_ca=True).public
    reason = check_root_certificate(key, GUN, NOW)
    assert reason is not None
    assert "CA" in reason
    assert check_rotation_certificate(key, NOW) is not None


def test_bundle_starting_with_a_ca_is_refused() -> None:
    _, leaf, _ = certificate_key()
    _, ca, ca_private = certificate_key(ca=True)
    assert check_root_certificate(bundle_key([ca, leaf], ca_private).public, GUN, NOW) is not None


def test_bundle_with_two_leaves_is_refused() -> None:
    _, first, private = certificate_key()
    _, second, _ = certificate_key()
    reason = check_root_certificate(bundle_key([first, second], private).public, GUN, NOW)
    assert reason is not None
    assert "2 leaf certificates" in reason
    assert check_rotation_certificate(bundle_key([first, second], private).public, NOW) is not None


# ---------------------------------------------------------------------------------------------- time


def test_expired_certificate_is_refused_for_a_new_root() -> None:
    key = root_key(not_before=CERT_FROM, not_after=NOW - timedelta(seconds=1)).public
    reason = check_root_certificate(key, GUN, NOW)
    assert reason is not None
    assert "expired" in reason


def test_certificate_valid_until_exactly_now_is_accepted() -> None:
    assert check_root_certificate(root_key(not_after=NOW).public, GUN, NOW) is None


def test_not_before_has_one_day_of_leeway() -> None:
    almost = root_key(not_before=NOW + timedelta(hours=23)).public
    exactly = root_key(not_before=NOW + timedelta(days=1)).public
    assert check_root_certificate(almost, GUN, NOW) is None
    assert check_root_certificate(exactly, GUN, NOW) is None


def test_certificate_from_more_than_a_day_ahead_is_refused() -> None:
    key = root_key(not_before=NOW + timedelta(days=1, seconds=1)).public
    reason = check_root_certificate(key, GUN, NOW)
    assert reason is not None
    assert "not valid yet" in reason


def test_expired_certificate_may_still_sign_a_rotation() -> None:
    key = root_key(not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=400)).public
    assert check_rotation_certificate(key, NOW) is None
    future = root_key(not_before=NOW + timedelta(days=30), not_after=CERT_TO).public
    assert check_rotation_certificate(future, NOW) is None


def test_inverted_validity_window_is_refused() -> None:
    key, certificate, _ = certificate_key(swap_validity=True)
    assert certificate.not_valid_before_utc > certificate.not_valid_after_utc
    assert check_root_certificate(key.public, GUN, NOW) == "certificate validity window is invalid"
    assert check_rotation_certificate(key.public, NOW) == "certificate validity window is invalid"


# ------------------------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("algorithm", ["ecdsa", "rsa"])
def test_sha1_signed_certificate_is_refused(algorithm: str) -> None:
    key = root_key(algorithm=algorithm, hash_algorithm=hashes.SHA1()).public
    reason = check_root_certificate(key, GUN, NOW)
    assert reason is not None
    assert "SHA1" in reason
    assert check_rotation_certificate(key, NOW) is not None


def test_md5_signed_certificate_is_refused() -> None:
    key, certificate, _ = certificate_key(algorithm="rsa", resign_as="md5_rsa")
    assert isinstance(certificate.signature_hash_algorithm, hashes.MD5)
    assert check_root_certificate(key.public, GUN, NOW) is not None
    assert check_rotation_certificate(key.public, NOW) is not None


@pytest.mark.parametrize("hash_algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_sha2_signed_certificates_are_accepted(hash_algorithm: hashes.HashAlgorithm) -> None:
    key = root_key(hash_algorithm=hash_algorithm).public
    assert check_root_certificate(key, GUN, NOW) is None


def test_short_rsa_key_is_refused() -> None:
    key = root_key(algorithm="rsa", rsa_bits=1024).public
    reason = check_root_certificate(key, GUN, NOW)
    assert reason is not None
    assert "RSA bit length is too short" in reason
    assert check_rotation_certificate(key, NOW) is not None
