"""Act like the Go ``notary`` client in tests: make keys, build and sign TUF metadata, encode the upload.

Everything here produces what the client sends (spec §2.5, §5, §6 and ``tests/fixtures/notary/upload-*``):

* :class:`Key`: a private key and its TUF public key; ``root_certificate`` makes the self-signed X.509
  root key of ``notary init`` (and broken variants of it), ``from_public`` wraps a key whose private half
  only the server holds (``GET timestamp.key``).
* ``root_signed`` / ``targets_signed`` / ``snapshot_signed`` / ``timestamp_signed``: the ``signed``
  objects, with the client's field names and default expiries.
* :func:`sign_file`: the file bytes ``{"signed":...,"signatures":[...]}`` as the client writes them
  (``signatures_for`` and ``encode_file`` are its two halves, for tests that tamper with signatures).
* :func:`multipart`: the ``POST {T}/`` body, byte for byte like Go's ``mime/multipart``.
* :class:`Repo`: one client's repository for one GUN, to drive whole publish flows in a few lines.

Example::

    repo = Repo("example.com/app")
    body, content_type = multipart(repo.init(timestamp_public=server_timestamp_key))
    body, content_type = multipart(repo.add_target("v1", b"content"))
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from notary.tuf.canonical import encode_canonical
from notary.tuf.keys import PublicKey
from notary.tuf.signing import generate_private_key, public_key_for, sign
from notary.tuf.timefmt import format_go_time

from .certificates import resign

__all__ = [
    "BASE_ROLES",
    "SHA256",
    "CertificateHash",
    "Delegation",
    "Key",
    "MissingPrivateKeyError",
    "Repo",
    "encode_file",
    "file_meta",
    "multipart",
    "root_signed",
    "sign_file",
    "signatures_for",
    "snapshot_signed",
    "targets_signed",
    "timestamp_signed",
]

BASE_ROLES: Final = ("root", "snapshot", "targets", "timestamp")
# The certificate signature hashes root_certificate can make (SHA-1 only for refusal tests).
CertificateHash = hashes.SHA1 | hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512
SHA256: Final = hashes.SHA256()

# Default lifetimes, as notary uses them (notary.Year is 365 days).
_CERT_LIFETIME: Final = timedelta(days=3650)
_CERT_BACKDATE: Final = timedelta(hours=1)
_ROOT_LIFETIME: Final = timedelta(days=3650)
_TARGETS_LIFETIME: Final = timedelta(days=3 * 365)
_SNAPSHOT_LIFETIME: Final = timedelta(days=3 * 365)
_TIMESTAMP_LIFETIME: Final = timedelta(days=14)

Signed = dict[str, object]
Files = dict[str, bytes]


class MissingPrivateKeyError(ValueError):
    """Signing was asked of a key whose private half we do not hold (``Key.from_public``)."""


# --------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class Key:
    """A TUF key: ``public`` as it goes into metadata and, unless made by ``from_public``, the PKCS#8
    DER private key that signs for it (``private_der`` is None for keys only the server holds)."""

    private_der: bytes | None
    public: PublicKey

    @property
    def key_id(self) -> str:
        return self.public.key_id

    @property
    def can_sign(self) -> bool:
        return self.private_der is not None

    def sign(self, data: bytes) -> tuple[str, bytes]:
        """(method, raw signature bytes) over ``data``: ``ecdsa`` also for ``ecdsa-x509``, ``rsapss``
        for ``rsa``/``rsa-x509``, ``eddsa`` for ``ed25519``."""
        if self.private_der is None:
            raise MissingPrivateKeyError(f"no private key for {self.public.keytype} key {self.key_id}")
        return sign(self.private_der, data)

    @classmethod
    def generate(cls, algorithm: str = "ecdsa") -> Key:
        """A new plain key (``ecdsa`` P-256 like notary's targets/snapshot keys, ``ed25519``, ``rsa``)."""
        private_der = generate_private_key(algorithm)
        return cls(private_der=private_der, public=public_key_for(private_der))

    @classmethod
    def from_public(cls, public: PublicKey | Mapping[str, object]) -> Key:
        """A key we can list in metadata but not sign with, e.g. the server's timestamp key.

        Takes a PublicKey or the JSON object of ``GET {T}/timestamp.key``.
        """
        if not isinstance(public, PublicKey):
            public = PublicKey.from_dict(dict(public))
        return cls(private_der=None, public=public)

    @classmethod
    def root_certificate(
        cls,
        gun: str,
        algorithm: str = "ecdsa",
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        is_ca: bool = False,
        hash_algorithm: CertificateHash = SHA256,
        rsa_bits: int = 2048,
    ) -> Key:
        """A root key as ``notary init`` makes it: a new key with a self-signed certificate, CN = ``gun``.

        The public key is ``ecdsa-x509`` (``algorithm="ecdsa"``, P-256) or ``rsa-x509``
        (``algorithm="rsa"``, ``rsa_bits``): base64 of the certificate's PEM text. Extensions as notary
        writes them: critical KeyUsage digitalSignature+keyEncipherment, ExtKeyUsage codeSigning,
        critical BasicConstraints CA:false.

        Validity is ``now - 1h .. now + 10y`` by default (notary starts at now; the hour of slack keeps
        tests clear of clock skew). The options make certificates the server must refuse: another
        ``gun`` for a wrong CN, ``is_ca=True`` (CA:true plus keyCertSign), past ``not_after`` (expired;
        ``not_before`` then defaults to a day earlier), ``hash_algorithm=hashes.SHA1()``,
        ``rsa_bits=1024``.

        SHA-1: ``cryptography`` refuses to sign certificates with SHA-1 for every key type, so the
        certificate is built with SHA-256 and then re-signed with SHA-1 (``ecdsa-with-SHA1`` or
        ``sha1WithRSAEncryption``) through ``asn1crypto``; the result is a real, verifiable SHA-1 cert.
        """
        private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
        if algorithm == "ecdsa":
            private_key = ec.generate_private_key(ec.SECP256R1())
            keytype = "ecdsa-x509"
        elif algorithm == "rsa":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
            keytype = "rsa-x509"
        else:
            raise ValueError(f"root certificates are 'ecdsa' or 'rsa', not {algorithm!r}")

        now = datetime.now(UTC)
        if not_after is None:
            not_after = now + _CERT_LIFETIME
        if not_before is None:
            not_before = min(now - _CERT_BACKDATE, not_after - timedelta(days=1))

        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, gun)])
        key_usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=True,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=is_ca,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(key_usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if isinstance(hash_algorithm, hashes.SHA1):
            sha1 = "sha1_ecdsa" if algorithm == "ecdsa" else "sha1_rsa"
            certificate = resign(builder.sign(private_key, SHA256), private_key, sha1)
        else:
            certificate = builder.sign(private_key, hash_algorithm)

        pem = certificate.public_bytes(serialization.Encoding.PEM)
        private_der = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = PublicKey(keytype=keytype, public=base64.b64encode(pem).decode("ascii"))
        return cls(private_der=private_der, public=public)


# --------------------------------------------------------------------------------------------------
# Signed files


def signatures_for(signed: Mapping[str, object], keys: Sequence[Key]) -> list[dict[str, str]]:
    """One ``{"keyid","method","sig"}`` per key, in the order given, over ``encode_canonical(signed)``."""
    data = encode_canonical(dict(signed))
    entries = []
    for key in keys:
        method, signature = key.sign(data)
        entries.append(
            {"keyid": key.key_id, "method": method, "sig": base64.b64encode(signature).decode("ascii")}
        )
    return entries


def encode_file(
    signed: Mapping[str, object], signatures: Sequence[Mapping[str, object]], *, pretty: bool = False
) -> bytes:
    """The file bytes for ``signed`` with the given signature entries (which are not checked).

    Compact (default): ``{"signed":<canonical JSON>,"signatures":[...]}`` with no whitespace and each
    signature's members in key order (``keyid``, ``method``, ``sig``), which is how the Go client's files
    look. ``pretty=True``: the same JSON value spelled differently (``signatures`` first, indented,
    non-ASCII escaped), for tests that the server keeps and hashes the bytes it was sent.
    """
    if pretty:
        document = {"signatures": [dict(entry) for entry in signatures], "signed": dict(signed)}
        return json.dumps(document, indent=2, ensure_ascii=True).encode("ascii") + b"\n"
    return (
        b'{"signed":'
        + encode_canonical(dict(signed))
        + b',"signatures":'
        + encode_canonical([dict(entry) for entry in signatures])
        + b"}"
    )


def sign_file(signed: Mapping[str, object], keys: Sequence[Key], *, pretty: bool = False) -> bytes:
    """Sign ``signed`` with every key in ``keys`` (in that order) and return the file bytes."""
    return encode_file(signed, signatures_for(signed, keys), pretty=pretty)


def file_meta(data: bytes) -> dict[str, object]:
    """``{"hashes":{"sha256","sha512"},"length"}`` of ``data`` (standard base64 digests), as in
    ``targets`` entries, snapshot ``meta`` and timestamp ``meta``."""
    return {
        "hashes": {
            "sha256": base64.b64encode(hashlib.sha256(data).digest()).decode("ascii"),
            "sha512": base64.b64encode(hashlib.sha512(data).digest()).decode("ascii"),
        },
        "length": len(data),
    }


# --------------------------------------------------------------------------------------------------
# Role builders


def _expires(expires: datetime | str | None, lifetime: timedelta) -> str:
    """Go RFC3339Nano text; a str is used verbatim (for tests of malformed times)."""
    if isinstance(expires, str):
        return expires
    return format_go_time(expires if expires is not None else datetime.now(UTC) + lifetime)


def _keys_object(keys: Iterable[Key]) -> dict[str, object]:
    return {key.key_id: key.public.to_dict() for key in keys}


def root_signed(
    *,
    root_keys: Sequence[Key],
    targets_keys: Sequence[Key],
    snapshot_keys: Sequence[Key],
    timestamp_keys: Sequence[Key],
    version: int = 1,
    expires: datetime | str | None = None,
    thresholds: Mapping[str, int] | None = None,
    extra_keys: Sequence[Key] = (),
) -> Signed:
    """The ``signed`` part of root.json. Every role has the given keys and threshold (default 1).

    ``extra_keys`` are listed in ``keys`` without a role, as the Go client keeps the old root
    certificate in the root that rotates it away. Default expiry: now + 10 years.
    """
    role_keys = {
        "root": root_keys,
        "snapshot": snapshot_keys,
        "targets": targets_keys,
        "timestamp": timestamp_keys,
    }
    thresholds = thresholds or {}
    all_keys = [key for keys in role_keys.values() for key in keys] + list(extra_keys)
    return {
        "_type": "Root",
        "consistent_snapshot": False,
        "expires": _expires(expires, _ROOT_LIFETIME),
        "keys": _keys_object(all_keys),
        "roles": {
            role: {"keyids": [key.key_id for key in keys], "threshold": thresholds.get(role, 1)}
            for role, keys in role_keys.items()
        },
        "version": version,
    }


@dataclass
class Delegation:
    """One entry of a targets file's ``delegations.roles`` (``paths=[""]`` is ``--all-paths``)."""

    name: str
    keys: list[Key]
    threshold: int = 1
    paths: list[str] = field(default_factory=lambda: [""])


def targets_signed(
    *,
    targets: Mapping[str, bytes] | None = None,
    version: int = 1,
    expires: datetime | str | None = None,
    delegations: Sequence[Delegation] | None = None,
) -> Signed:
    """The ``signed`` part of targets.json or of a delegation (``targets/...``).

    ``targets`` maps target path → content; the entry holds its length and hashes. Without delegations,
    ``delegations`` is ``{"keys":{},"roles":[]}``, as the client sends it (delegation files too).
    Default expiry: now + 3 years.
    """
    delegations = delegations or []
    return {
        "_type": "Targets",
        "delegations": {
            "keys": _keys_object(key for delegation in delegations for key in delegation.keys),
            "roles": [
                {
                    "keyids": [key.key_id for key in delegation.keys],
                    "name": delegation.name,
                    "paths": list(delegation.paths),
                    "threshold": delegation.threshold,
                }
                for delegation in delegations
            ],
        },
        "expires": _expires(expires, _TARGETS_LIFETIME),
        "targets": {path: file_meta(content) for path, content in (targets or {}).items()},
        "version": version,
    }


def snapshot_signed(
    files: Mapping[str, bytes], *, version: int = 1, expires: datetime | str | None = None
) -> Signed:
    """The ``signed`` part of snapshot.json: ``meta`` has the length and hashes of each file's exact
    bytes (give root, targets and every delegation). Default expiry: now + 3 years."""
    return {
        "_type": "Snapshot",
        "expires": _expires(expires, _SNAPSHOT_LIFETIME),
        "meta": {role: file_meta(data) for role, data in files.items()},
        "version": version,
    }


def timestamp_signed(
    snapshot_bytes: bytes, *, version: int = 1, expires: datetime | str | None = None
) -> Signed:
    """The ``signed`` part of timestamp.json over the given snapshot file. Clients never upload one (the
    server ignores it); this is for tests of exactly that. Default expiry: now + 14 days."""
    return {
        "_type": "Timestamp",
        "expires": _expires(expires, _TIMESTAMP_LIFETIME),
        "meta": {"snapshot": file_meta(snapshot_bytes)},
        "version": version,
    }


# --------------------------------------------------------------------------------------------------
# The upload


def multipart(
    files: Mapping[str, bytes] | Iterable[tuple[str, bytes]], boundary: str | None = None
) -> tuple[bytes, str]:
    """(body, Content-Type value) of ``POST {T}/`` as the Go client encodes it.

    One part per file, in the order given, field name ``files``, ``filename`` = the role name without
    ``.json``, ``Content-Type: application/octet-stream``; the boundary is 60 random hex digits like Go's.
    Pass ``(role, bytes)`` pairs instead of a mapping to send a role twice.
    """
    boundary = boundary or secrets.token_hex(30)
    delimiter = b"--" + boundary.encode("ascii")
    items = files.items() if isinstance(files, Mapping) else files
    body = bytearray()
    for role, data in items:
        # Go's mime/multipart escapes backslashes and double quotes in the filename.
        filename = role.replace("\\", "\\\\").replace('"', '\\"')
        if body:
            body += b"\r\n"
        body += delimiter + b"\r\n"
        body += f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'.encode()
        body += b"Content-Type: application/octet-stream\r\n\r\n"
        body += data
    if body:
        body += b"\r\n"
    body += delimiter + b"--\r\n"
    return bytes(body), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------------------------------
# A client repository


def _parent_role(role: str) -> str:
    return role.rpartition("/")[0]


class Repo:
    """One client's repository for one GUN: its keys, the versions and the latest bytes of every role.

    Every action returns the ``{role: bytes}`` to upload (pass it to :func:`multipart`), in the client's
    order (root, targets, delegations, snapshot), and records it as the client's state. When the client
    holds the snapshot key (``snapshot_key`` is not None), each upload also carries a new snapshot over
    the latest root, targets and delegation files, as the server requires; when the server holds it,
    the server makes the snapshot.

    Versions start at 1 for root, targets and snapshot at ``init`` and each upload of a role bumps its
    version by 1. (The Go client starts at root 1, targets 2, snapshot 2; set ``versions[role]`` to
    start elsewhere — the next upload of the role uses that number + 1.) ``client_snapshot`` is the one
    exception, since only the server knows its current snapshot version.
    """

    def __init__(
        self,
        gun: str,
        *,
        root_key: Key | None = None,
        targets_key: Key | None = None,
        snapshot_key: Key | None = None,
    ) -> None:
        self.gun = gun
        self.root_key: Key = root_key or Key.root_certificate(gun)
        self.targets_key: Key = targets_key or Key.generate()
        # The snapshot key the client holds; None while the server holds it.
        self.snapshot_key: Key | None = snapshot_key or Key.generate()
        # The key listed in root's snapshot role (the client's key, or the server's).
        self.snapshot_public: Key = self.snapshot_key
        self.timestamp_public: Key | None = None
        self.versions: dict[str, int] = {}
        self.files: Files = {}
        self.targets: dict[str, dict[str, bytes]] = {"targets": {}}
        self.delegations: dict[str, Delegation] = {}

    # -- actions ------------------------------------------------------------------------------------

    def init(
        self,
        timestamp_public: Key | PublicKey | Mapping[str, object],
        snapshot_public: Key | PublicKey | Mapping[str, object] | None = None,
    ) -> Files:
        """``notary init -p``: root, targets (empty) and, unless ``snapshot_public`` (the server's
        snapshot key) is given, snapshot, all at version 1."""
        if self.versions:
            raise ValueError("repository already initialised")
        self.timestamp_public = _as_key(timestamp_public)
        if snapshot_public is not None:
            self.snapshot_key = None
            self.snapshot_public = _as_key(snapshot_public)
        return self.publish("root", "targets")

    def add_target(self, path: str, content: bytes, *, role: str = "targets") -> Files:
        """``notary add GUN path file -p`` (``--roles`` for a delegation): the role's file (+ snapshot)."""
        self._require_role(role)
        self.targets[role][path] = content
        return self.publish(role)

    def remove_target(self, path: str, *, role: str = "targets") -> Files:
        """``notary remove GUN path -p``."""
        self._require_role(role)
        del self.targets[role][path]
        return self.publish(role)

    def add_delegation(
        self, name: str, keys: Key | Sequence[Key], *, threshold: int = 1, paths: Sequence[str] = ("",)
    ) -> Files:
        """``notary delegation add GUN name cert --all-paths -p``: re-signs the parent (``targets`` for
        ``targets/x``) with the new entry. The delegation's own file only appears with its first target."""
        parent = _parent_role(name)
        self._require_role(parent)
        if name in self.delegations:
            raise ValueError(f"delegation {name} exists already")
        key_list = [keys] if isinstance(keys, Key) else list(keys)
        self.delegations[name] = Delegation(name, key_list, threshold, list(paths))
        self.targets[name] = {}
        return self.publish(parent)

    def publish_delegation_target(
        self, name: str, path: str, content: bytes, *, signers: Sequence[Key] | None = None
    ) -> Files:
        """``notary add GUN path file --roles name -p``: the delegation file (+ snapshot), signed by
        ``signers`` (default: the delegation's keys whose private halves we hold)."""
        if name not in self.delegations:
            raise ValueError(f"no delegation {name}")
        self.targets[name][path] = content
        return self.publish(name, signers={name: signers} if signers is not None else None)

    def rotate_root(self, new_root_key: Key | None = None) -> Files:
        """``notary key rotate GUN root``: root version + 1 with the new certificate (default: a fresh
        one for the GUN), signed by the new and the old root key; the old certificate stays in ``keys``
        of this root, as the Go client does."""
        old = self.root_key
        self.root_key = new_root_key or Key.root_certificate(self.gun)
        return self.publish("root", signers={"root": [self.root_key, old]}, extra_root_keys=[old])

    def rotate_targets_key(self, new_targets_key: Key | None = None) -> Files:
        """``notary key rotate GUN targets``: root and targets (signed by the new key)."""
        self.targets_key = new_targets_key or Key.generate()
        return self.publish("root", "targets")

    def server_snapshot(self, snapshot_public: Key | PublicKey | Mapping[str, object]) -> Files:
        """``notary key rotate GUN snapshot -r``: root version + 1 listing the server's snapshot key
        (from ``POST {T}/snapshot.key``); from now on the server signs snapshots."""
        self.snapshot_key = None
        self.snapshot_public = _as_key(snapshot_public)
        return self.publish("root")

    def server_timestamp(self, timestamp_public: Key | PublicKey | Mapping[str, object]) -> Files:
        """``notary key rotate GUN timestamp -r``: root version + 1 listing the new server timestamp key."""
        self.timestamp_public = _as_key(timestamp_public)
        return self.publish("root")

    def client_snapshot(self, snapshot_key: Key | None = None, *, snapshot_version: int) -> Files:
        """``notary key rotate GUN snapshot`` while the server holds it: root version + 1 listing a client
        key (default: a new one) and a snapshot at ``snapshot_version``, which must exceed the version
        the server last generated."""
        self.snapshot_key = snapshot_key or Key.generate()
        self.snapshot_public = self.snapshot_key
        self.versions["snapshot"] = snapshot_version - 1
        return self.publish("root")

    def publish(
        self,
        *roles: str,
        signers: Mapping[str, Sequence[Key]] | None = None,
        extra_root_keys: Sequence[Key] = (),
    ) -> Files:
        """Bump and re-sign ``roles`` from the current state (plus the snapshot when the client holds
        its key) and return them. ``signers`` overrides the keys that sign a role."""
        signers = signers or {}
        for role in roles:
            self.versions[role] = self.versions.get(role, 0) + 1
            signed = self._root_signed(extra_root_keys) if role == "root" else self._targets_signed(role)
            role_signers = signers.get(role)
            self.files[role] = sign_file(
                signed, role_signers if role_signers is not None else self._signers(role)
            )
        uploaded = list(roles)
        if self.snapshot_key is not None:
            self.versions["snapshot"] = self.versions.get("snapshot", 0) + 1
            covered = {role: data for role, data in self.files.items() if role != "snapshot"}
            signed = snapshot_signed(covered, version=self.versions["snapshot"])
            self.files["snapshot"] = sign_file(signed, signers.get("snapshot", [self.snapshot_key]))
            uploaded.append("snapshot")
        return {role: self.files[role] for role in _upload_order(uploaded)}

    # -- state --------------------------------------------------------------------------------------

    def root(self) -> Signed:
        """The ``signed`` part of the latest root this client made."""
        return self.signed("root")

    def signed(self, role: str) -> Signed:
        """The ``signed`` part of the latest file of ``role``."""
        value = json.loads(self.files[role])["signed"]
        if not isinstance(value, dict):
            raise TypeError(f"{role} has no signed object")
        return value

    def _root_signed(self, extra_keys: Sequence[Key]) -> Signed:
        if self.timestamp_public is None:
            raise ValueError("call init() first: the server's timestamp key is not known yet")
        return root_signed(
            root_keys=[self.root_key],
            targets_keys=[self.targets_key],
            snapshot_keys=[self.snapshot_public],
            timestamp_keys=[self.timestamp_public],
            version=self.versions["root"],
            extra_keys=extra_keys,
        )

    def _targets_signed(self, role: str) -> Signed:
        self._require_role(role)
        children = [d for name, d in self.delegations.items() if _parent_role(name) == role]
        return targets_signed(targets=self.targets[role], version=self.versions[role], delegations=children)

    def _signers(self, role: str) -> list[Key]:
        if role == "root":
            return [self.root_key]
        if role == "targets":
            return [self.targets_key]
        signers = [key for key in self.delegations[role].keys if key.can_sign]
        if not signers:
            raise MissingPrivateKeyError(f"no private key for delegation {role}")
        return signers

    def _require_role(self, role: str) -> None:
        if role not in self.targets:
            raise ValueError(f"unknown targets role {role!r}")


def _as_key(key: Key | PublicKey | Mapping[str, object]) -> Key:
    return key if isinstance(key, Key) else Key.from_public(key)


def _upload_order(roles: Iterable[str]) -> list[str]:
    """root, targets, delegations (shallowest first), snapshot: the Go client's order."""
    rank = {"root": 0, "targets": 1, "snapshot": 3, "timestamp": 4}
    return sorted(dict.fromkeys(roles), key=lambda role: (rank.get(role, 2), role.count("/"), role))
