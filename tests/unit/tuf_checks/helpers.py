"""Keys, certificates and signed files for the validation tests, at fixed times (never the wall clock)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from notary.tuf.checks import RootInfo, check_root
from notary.tuf.keys import PublicKey
from notary.tuf.metadata import SignedMetadata, parse_metadata
from notary.tuf.timefmt import format_go_time
from tests.support.certificates import resign
from tests.support.tuf_builder import Delegation, Key, root_signed, sign_file, snapshot_signed, targets_signed

GUN = "example.com/app"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
CERT_FROM = datetime(2026, 6, 1, tzinfo=UTC)
CERT_TO = datetime(2036, 6, 1, tzinfo=UTC)
EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def root_key(gun: str = GUN, algorithm: str = "ecdsa", **options: Any) -> Key:
    """A root certificate key valid from CERT_FROM to CERT_TO unless told otherwise."""
    options.setdefault("not_before", CERT_FROM)
    options.setdefault("not_after", CERT_TO)
    return Key.root_certificate(gun, algorithm, **options)


def parse(role: str, raw: bytes) -> SignedMetadata:
    return parse_metadata(role, raw)


def signed_file(role: str, signed: Mapping[str, Any], signers: Sequence[Key]) -> SignedMetadata:
    return parse(role, sign_file(signed, signers))


class RootKeys:
    """One key per base role: a root certificate for GUN and plain ecdsa keys for the others."""

    def __init__(self, root: Key | None = None) -> None:
        self.root = root or root_key()
        self.targets = Key.generate("ecdsa")
        self.snapshot = Key.generate("ecdsa")
        self.timestamp = Key.generate("ed25519")

    def signed(self, **options: Any) -> dict[str, Any]:
        options.setdefault("expires", EXPIRES)
        return dict(
            root_signed(
                root_keys=options.pop("root_keys", [self.root]),
                targets_keys=[self.targets],
                snapshot_keys=[self.snapshot],
                timestamp_keys=[self.timestamp],
                **options,
            )
        )


def make_root(
    keys: RootKeys,
    *,
    signers: Sequence[Key] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> SignedMetadata:
    signed = keys.signed(**options)
    if edit is not None:
        edit(signed)
    return signed_file("root", signed, [keys.root] if signers is None else signers)


def accepted_root(keys: RootKeys, **options: Any) -> RootInfo:
    return check_root(make_root(keys, **options), None, GUN, NOW)


def make_targets(
    role: str,
    signers: Sequence[Key],
    *,
    targets: Mapping[str, bytes] | None = None,
    delegations: Sequence[Delegation] | None = None,
    version: int = 1,
    expires: datetime = EXPIRES,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> SignedMetadata:
    signed = dict(targets_signed(targets=targets, delegations=delegations, version=version, expires=expires))
    if edit is not None:
        edit(signed)
    return signed_file(role, signed, signers)


def make_snapshot(
    files: Mapping[str, bytes],
    signers: Sequence[Key],
    *,
    version: int = 1,
    expires: datetime = EXPIRES,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> SignedMetadata:
    signed = dict(snapshot_signed(files, version=version, expires=expires))
    if edit is not None:
        edit(signed)
    return signed_file("snapshot", signed, signers)


def go_time(moment: datetime) -> str:
    return format_go_time(moment)


# ---------------------------------------------------------------------------------------------------
# Certificates tuf_builder does not make: MD5, inverted validity, no CN, bundles.


def certificate_key(
    *,
    common_name: str | None = GUN,
    algorithm: str = "ecdsa",
    not_before: datetime = CERT_FROM,
    not_after: datetime = CERT_TO,
    ca: bool = False,
    rsa_bits: int = 2048,
    resign_as: str | None = None,
    swap_validity: bool = False,
) -> tuple[Key, x509.Certificate, PrivateKey]:
    """A self-signed certificate key; ``resign_as`` re-signs it (asn1crypto) as ``md5_rsa`` etc., and
    ``swap_validity`` exchanges notBefore and notAfter (which cryptography's builder refuses)."""
    private: PrivateKey
    if algorithm == "ecdsa":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    attributes = [] if common_name is None else [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    name = x509.Name(attributes)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    if resign_as is not None or swap_validity:
        certificate = resign(certificate, private, resign_as, swap_validity=swap_validity)
    return _as_key([certificate], private), certificate, private


def bundle_key(certificates: Sequence[x509.Certificate], private: PrivateKey) -> Key:
    """A key whose PEM holds several certificates, the first one's private key signing."""
    return _as_key(certificates, private)


def _as_key(certificates: Sequence[x509.Certificate], private: PrivateKey) -> Key:
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)
    keytype = "ecdsa-x509" if isinstance(private, ec.EllipticCurvePrivateKey) else "rsa-x509"
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Key(private_der=der, public=PublicKey(keytype=keytype, public=base64.b64encode(pem).decode()))
