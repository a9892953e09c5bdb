"""tests.support.tuf_builder makes what the Go notary client makes: valid signatures, shapes and bytes."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import BasicConstraints
from cryptography.x509.oid import NameOID

from notary.tuf.canonical import encode_canonical
from notary.tuf.keys import PublicKey, verify_signature
from notary.tuf.timefmt import parse_go_time
from tests.support.tuf_builder import (
    BASE_ROLES,
    Delegation,
    Key,
    MissingPrivateKeyError,
    Repo,
    encode_file,
    file_meta,
    multipart,
    root_signed,
    sign_file,
    signatures_for,
    snapshot_signed,
    targets_signed,
    timestamp_signed,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notary"
RAW_MULTIPART = FIXTURES / "upload-init-multipart.raw"
GUN = "example.com/tests/app"


def load(name: str) -> dict[str, object]:
    value = json.loads((FIXTURES / name).read_bytes())
    assert isinstance(value, dict)
    return value


def signed_of(data: bytes) -> Any:
    """The parsed ``signed`` object of a file (Any: tests index into it freely)."""
    return json.loads(data)["signed"]


def valid_signers(data: bytes, keys: Mapping[str, PublicKey]) -> list[str]:
    """Key ids (of ``keys``) whose signature in the file verifies over the canonical ``signed``."""
    document = json.loads(data)
    payload = encode_canonical(document["signed"])
    return [
        entry["keyid"]
        for entry in document["signatures"]
        if entry["keyid"] in keys
        and verify_signature(keys[entry["keyid"]], entry["method"], base64.b64decode(entry["sig"]), payload)
    ]


def root_keys_of(root: Mapping[str, object], role: str) -> dict[str, PublicKey]:
    keys = root["keys"]
    roles = root["roles"]
    assert isinstance(keys, dict)
    assert isinstance(roles, dict)
    return {keyid: PublicKey.from_dict(keys[keyid]) for keyid in roles[role]["keyids"]}


def delegation_keys_of(parent: Mapping[str, object], name: str) -> dict[str, PublicKey]:
    delegations = parent["delegations"]
    assert isinstance(delegations, dict)
    (entry,) = [role for role in delegations["roles"] if role["name"] == name]
    return {keyid: PublicKey.from_dict(delegations["keys"][keyid]) for keyid in entry["keyids"]}


def version_of(data: bytes) -> int:
    version = signed_of(data)["version"]
    assert isinstance(version, int)
    return version


def flipped(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --------------------------------------------------------------------------------------------------
# Keys and signatures

KEY_MAKERS: dict[str, Callable[[], Key]] = {
    "ecdsa": lambda: Key.generate("ecdsa"),
    "ed25519": lambda: Key.generate("ed25519"),
    "rsa": lambda: Key.generate("rsa"),
    "ecdsa-x509": lambda: Key.root_certificate(GUN),
    "rsa-x509": lambda: Key.root_certificate(GUN, "rsa"),
}
EXPECTED_METHOD = {
    "ecdsa": "ecdsa",
    "ed25519": "eddsa",
    "rsa": "rsapss",
    "ecdsa-x509": "ecdsa",
    "rsa-x509": "rsapss",
}


@pytest.mark.parametrize("keytype", list(KEY_MAKERS))
def test_every_signature_verifies_and_a_flipped_byte_fails(keytype: str) -> None:
    key = KEY_MAKERS[keytype]()
    assert key.public.keytype == keytype
    signed = targets_signed(targets={"v1": b"hello\n"})

    data = sign_file(signed, [key])

    document = json.loads(data)
    assert document["signed"] == signed
    (entry,) = document["signatures"]
    assert entry["keyid"] == key.key_id
    assert entry["method"] == EXPECTED_METHOD[keytype]
    payload = encode_canonical(signed)
    signature = base64.b64decode(entry["sig"], validate=True)
    assert verify_signature(key.public, entry["method"], signature, payload)
    assert not verify_signature(key.public, entry["method"], flipped(signature), payload)
    assert not verify_signature(key.public, entry["method"], signature, flipped(payload, len(payload) // 2))


def test_signatures_come_in_the_order_of_the_keys_given() -> None:
    keys = [Key.generate(), Key.generate("ed25519"), Key.root_certificate(GUN)]
    signed = snapshot_signed({"root": b"r", "targets": b"t"})

    entries = signatures_for(signed, keys)

    assert [entry["keyid"] for entry in entries] == [key.key_id for key in keys]
    assert all(list(entry) == ["keyid", "method", "sig"] for entry in entries)
    public = {key.key_id: key.public for key in keys}
    assert valid_signers(sign_file(signed, keys), public) == [key.key_id for key in keys]


def test_key_id_is_the_hash_of_the_canonical_public_key() -> None:
    key = Key.generate()
    assert key.key_id == hashlib.sha256(encode_canonical(key.public.to_dict())).hexdigest()
    assert key.can_sign


def test_from_public_lists_a_server_key_but_cannot_sign() -> None:
    server_key = load("key-GET-timestamp.json")

    key = Key.from_public(server_key)

    assert key.key_id == "f1898b309dcae4c7a0cab9ecabe453cd1410c46cff9c4c9c912102bd3637e2a0"
    assert not key.can_sign
    assert Key.from_public(key.public) == key
    with pytest.raises(MissingPrivateKeyError):
        sign_file(targets_signed(), [key])


# --------------------------------------------------------------------------------------------------
# Root certificates


def test_root_certificate_is_a_self_signed_leaf_for_the_gun() -> None:
    before = datetime.now(UTC)
    key = Key.root_certificate(GUN)

    assert key.public.keytype == "ecdsa-x509"
    assert key.public.raw.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert key.public.raw.endswith(b"-----END CERTIFICATE-----\n")
    cert = key.public.certificate()
    assert cert is not None
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GUN
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    constraints = cert.extensions.get_extension_for_class(BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is False
    assert cert.not_valid_before_utc <= before - timedelta(minutes=59)
    assert cert.not_valid_after_utc >= before + timedelta(days=3649)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    # The key id is that of the certificate text; the "canonical" id is the plain SPKI key's.
    assert key.key_id != key.public.canonical_key_id


def test_root_certificate_rsa() -> None:
    key = Key.root_certificate(GUN, "rsa")

    assert key.public.keytype == "rsa-x509"
    public = key.public.crypto_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048


def test_root_certificate_bad_variants() -> None:
    now = datetime.now(UTC)

    wrong_cn = Key.root_certificate("example.com/other").public.certificate()
    ca = Key.root_certificate(GUN, is_ca=True).public.certificate()
    expired = Key.root_certificate(GUN, not_after=now - timedelta(days=2)).public.certificate()
    future = Key.root_certificate(
        GUN, not_before=now + timedelta(days=3), not_after=now + timedelta(days=30)
    ).public.certificate()
    small = Key.root_certificate(GUN, "rsa", rsa_bits=1024)

    assert wrong_cn is not None
    assert wrong_cn.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "example.com/other"
    assert ca is not None
    assert ca.extensions.get_extension_for_class(BasicConstraints).value.ca is True
    assert expired is not None
    assert expired.not_valid_after_utc < now
    assert expired.not_valid_before_utc < expired.not_valid_after_utc
    assert future is not None
    assert future.not_valid_before_utc > now
    small_public = small.public.crypto_key()
    assert isinstance(small_public, rsa.RSAPublicKey)
    assert small_public.key_size == 1024
    # It signs (rsapss, a 128-byte signature), but notary's verifier refuses RSA keys under 2048 bits.
    payload = encode_canonical(targets_signed())
    method, signature = small.sign(payload)
    assert (method, len(signature)) == ("rsapss", 128)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    small_public.verify(signature, payload, pss, hashes.SHA256())
    assert not verify_signature(small.public, method, signature, payload)


@pytest.mark.parametrize("algorithm", ["ecdsa", "rsa"])
def test_root_certificate_signed_with_sha1(algorithm: str) -> None:
    key = Key.root_certificate(GUN, algorithm, hash_algorithm=hashes.SHA1())

    cert = key.public.certificate()
    assert cert is not None
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA1)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GUN
    public = cert.public_key()
    # A real SHA-1 signature over the TBS, not just a relabelled SHA-256 one.
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA1()))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA1())
    # The metadata signature made with it is ordinary (SHA-256) and verifies.
    data = sign_file(targets_signed(), [key])
    assert valid_signers(data, {key.key_id: key.public}) == [key.key_id]


# --------------------------------------------------------------------------------------------------
# Role builders


def test_root_signed_has_the_client_shape_and_consistent_keys() -> None:
    root_key, old_root = Key.root_certificate(GUN), Key.root_certificate(GUN)
    targets_key, snapshot_key = Key.generate(), Key.generate()
    server_timestamp = Key.from_public(Key.generate("ed25519").public)

    signed = root_signed(
        root_keys=[root_key],
        targets_keys=[targets_key],
        snapshot_keys=[snapshot_key],
        timestamp_keys=[server_timestamp],
        version=3,
        thresholds={"targets": 1, "root": 1},
        extra_keys=[old_root],
    )

    client = load("upload-init_publish-root.json")["signed"]
    assert isinstance(client, dict)
    assert list(signed) == list(client)
    assert signed["_type"] == "Root"
    assert signed["consistent_snapshot"] is False
    assert signed["version"] == 3
    roles = signed["roles"]
    keys = signed["keys"]
    assert isinstance(roles, dict)
    assert isinstance(keys, dict)
    assert sorted(roles) == sorted(client["roles"]) == sorted(BASE_ROLES)
    for role in roles.values():
        assert list(role) == ["keyids", "threshold"]
        assert role["threshold"] == 1
        assert all(keyid in keys for keyid in role["keyids"])
    assert roles["root"]["keyids"] == [root_key.key_id]
    assert roles["timestamp"]["keyids"] == [server_timestamp.key_id]
    assert old_root.key_id in keys
    for keyid, key in keys.items():
        assert PublicKey.from_dict(key).key_id == keyid
    expires = parse_go_time(str(signed["expires"]))
    assert timedelta(days=3649) < expires - datetime.now(UTC) < timedelta(days=3651)


def test_root_signed_thresholds() -> None:
    signed = root_signed(
        root_keys=[Key.root_certificate(GUN)],
        targets_keys=[Key.generate()],
        snapshot_keys=[Key.generate()],
        timestamp_keys=[Key.generate("ed25519")],
        thresholds={"root": 2},
    )
    roles = signed["roles"]
    assert isinstance(roles, dict)
    assert {role: entry["threshold"] for role, entry in roles.items()} == {
        "root": 2,
        "snapshot": 1,
        "targets": 1,
        "timestamp": 1,
    }


def test_targets_signed_empty_is_what_the_client_sends_at_init() -> None:
    client = load("upload-init_publish-targets.json")["signed"]
    assert isinstance(client, dict)

    signed = targets_signed(version=client["version"], expires=str(client["expires"]))

    assert encode_canonical(signed) == encode_canonical(client)
    expires = parse_go_time(str(targets_signed()["expires"]))
    assert timedelta(days=3 * 365 - 1) < expires - datetime.now(UTC) <= timedelta(days=3 * 365)


def test_targets_signed_hashes_content_and_lists_delegations_like_the_client() -> None:
    delegation_key = Key.root_certificate("releases")
    content = b"v1 content\n"

    signed = targets_signed(
        targets={"v1": content}, version=5, delegations=[Delegation("targets/releases", [delegation_key])]
    )

    client = load("upload-delegation_add___publish-targets.json")["signed"]
    assert isinstance(client, dict)
    assert list(signed) == list(client)
    targets = signed["targets"]
    assert isinstance(targets, dict)
    assert targets["v1"] == {
        "hashes": {
            "sha256": base64.b64encode(hashlib.sha256(content).digest()).decode(),
            "sha512": base64.b64encode(hashlib.sha512(content).digest()).decode(),
        },
        "length": len(content),
    }
    delegations = signed["delegations"]
    assert isinstance(delegations, dict)
    (role,) = delegations["roles"]
    (client_role,) = client["delegations"]["roles"]
    assert sorted(role) == sorted(client_role)
    assert role == {
        "keyids": [delegation_key.key_id],
        "name": "targets/releases",
        "paths": [""],
        "threshold": 1,
    }
    assert delegations["keys"] == {delegation_key.key_id: delegation_key.public.to_dict()}


def test_snapshot_meta_hashes_the_exact_bytes_given() -> None:
    files = {"root": b'{"signed":1}', "targets": b"targets bytes", "targets/releases": b"\x00\xff"}

    signed = snapshot_signed(files, version=7)

    assert signed["_type"] == "Snapshot"
    assert signed["version"] == 7
    meta = signed["meta"]
    assert isinstance(meta, dict)
    assert list(meta) == list(files)
    for role, data in files.items():
        assert meta[role]["length"] == len(data)
        assert base64.b64decode(meta[role]["hashes"]["sha256"]) == hashlib.sha256(data).digest()
        assert base64.b64decode(meta[role]["hashes"]["sha512"]) == hashlib.sha512(data).digest()
    client = load("upload-init_publish-snapshot.json")["signed"]
    assert isinstance(client, dict)
    assert list(signed) == list(client)


def test_timestamp_signed_covers_the_snapshot_file() -> None:
    snapshot = b"snapshot file"

    signed = timestamp_signed(snapshot, version=4)

    assert signed["_type"] == "Timestamp"
    assert signed["meta"] == {"snapshot": file_meta(snapshot)}
    assert signed["version"] == 4
    expires = parse_go_time(str(signed["expires"]))
    assert timedelta(days=13) < expires - datetime.now(UTC) <= timedelta(days=14)
    served = load("served-list__empty_-timestamp.json")["signed"]
    assert isinstance(served, dict)
    assert list(signed) == list(served)


def test_expires_is_go_time_text() -> None:
    moment = datetime(2031, 2, 3, 4, 5, 6, 120000, tzinfo=UTC)
    assert targets_signed(expires=moment)["expires"] == "2031-02-03T04:05:06.12Z"
    assert snapshot_signed({}, expires=moment.replace(microsecond=0))["expires"] == "2031-02-03T04:05:06Z"
    assert timestamp_signed(b"", expires="not a time")["expires"] == "not a time"


# --------------------------------------------------------------------------------------------------
# File bytes


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("upload-*.json")))
def test_compact_encoding_reproduces_the_go_clients_bytes(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    document = json.loads(raw)

    assert encode_file(document["signed"], document["signatures"]) == raw


def test_pretty_bytes_differ_but_hold_the_same_json() -> None:
    key = Key.generate()
    signed = targets_signed(targets={"caf\u00e9 <&>": b"x"})
    signatures = signatures_for(signed, [key])

    compact = encode_file(signed, signatures)
    pretty = encode_file(signed, signatures, pretty=True)

    assert pretty != compact
    assert json.loads(pretty) == json.loads(compact) == {"signed": signed, "signatures": signatures}
    assert (
        compact
        == b'{"signed":' + encode_canonical(signed) + b',"signatures":' + encode_canonical(signatures) + b"}"
    )
    assert valid_signers(pretty, {key.key_id: key.public}) == [key.key_id]
    # sign_file(pretty=True) spells it the same way (ECDSA signatures differ from run to run).
    assert sign_file(signed, [key], pretty=True).startswith(b'{\n  "signatures": [')


# --------------------------------------------------------------------------------------------------
# Multipart


def parse_multipart(body: bytes, content_type: str) -> list[tuple[str, str, str, bytes]]:
    """(field name, filename, content type, payload) of each part, read with the stdlib email parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append(
            (
                str(part.get_param("name", header="content-disposition")),
                str(part.get_filename()),
                part.get_content_type(),
                payload,
            )
        )
    return parts


def test_multipart_parses_back_to_the_same_files() -> None:
    files = {
        "root": b'{"signed":{}}',
        "targets": b"\r\n--not-a-boundary\r\n",
        "targets/releases": b"\x00\x01binary",
        "snapshot": b"",
    }

    body, content_type = multipart(files)

    boundary = content_type.removeprefix("multipart/form-data; boundary=")
    assert len(boundary) == 60
    assert body.startswith(b"--" + boundary.encode() + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n")
    assert parse_multipart(body, content_type) == [
        ("files", role, "application/octet-stream", data) for role, data in files.items()
    ]


def test_multipart_pairs_may_repeat_a_role() -> None:
    body, content_type = multipart([("targets", b"first"), ("targets", b"second")], boundary="b0undary")

    assert content_type == "multipart/form-data; boundary=b0undary"
    assert [(name, data) for _, name, _, data in parse_multipart(body, content_type)] == [
        ("targets", b"first"),
        ("targets", b"second"),
    ]


def test_multipart_without_files_is_just_the_closing_delimiter() -> None:
    assert multipart({}, boundary="xyz") == (b"--xyz--\r\n", "multipart/form-data; boundary=xyz")


def test_multipart_reproduces_the_go_clients_init_upload() -> None:
    headers, _, raw_body = RAW_MULTIPART.read_bytes().partition(b"\r\n\r\n")
    content_type = headers.decode().removeprefix("Content-Type: ")
    boundary = content_type.removeprefix("multipart/form-data; boundary=")
    files = {
        role: (FIXTURES / f"upload-init_publish-{role}.json").read_bytes()
        for role in ("root", "targets", "snapshot")
    }

    assert multipart(files, boundary=boundary) == (raw_body, content_type)


# --------------------------------------------------------------------------------------------------
# Repo flows


@pytest.fixture(scope="module")
def server_timestamp() -> Key:
    return Key.from_public(Key.generate("ed25519").public)


def check_signed_by_roles(repo: Repo, uploaded: Mapping[str, bytes]) -> None:
    """Each uploaded file carries valid signatures from the keys its role lists in the latest root or
    in its parent, and snapshot meta matches the latest bytes of every other role."""
    root = repo.root()
    for role, data in uploaded.items():
        if role in BASE_ROLES:
            keys = root_keys_of(root, role)
        else:
            parent = role.rpartition("/")[0]
            keys = delegation_keys_of(repo.signed(parent), role)
        assert valid_signers(data, keys), f"{role} not signed by its role's keys"
    if "snapshot" in uploaded:
        meta = signed_of(uploaded["snapshot"])["meta"]
        others = {role: data for role, data in repo.files.items() if role != "snapshot"}
        assert meta == {role: file_meta(data) for role, data in others.items()}


def test_repo_init_with_a_client_snapshot_key(server_timestamp: Key) -> None:
    repo = Repo(GUN)

    files = repo.init(server_timestamp)

    assert list(files) == ["root", "targets", "snapshot"]
    assert {role: version_of(data) for role, data in files.items()} == {
        "root": 1,
        "targets": 1,
        "snapshot": 1,
    }
    root = signed_of(files["root"])
    assert root_keys_of(root, "root") == {repo.root_key.key_id: repo.root_key.public}
    assert list(root_keys_of(root, "timestamp")) == [server_timestamp.key_id]
    assert repo.root_key.public.keytype == "ecdsa-x509"
    assert signed_of(files["targets"])["delegations"] == {"keys": {}, "roles": []}
    check_signed_by_roles(repo, files)


def test_repo_init_with_a_server_snapshot_key(server_timestamp: Key) -> None:
    server_snapshot = Key.generate("ed25519").public
    repo = Repo(GUN)

    files = repo.init(server_timestamp.public, snapshot_public=server_snapshot)

    assert list(files) == ["root", "targets"]
    assert repo.snapshot_key is None
    assert list(root_keys_of(signed_of(files["root"]), "snapshot")) == [server_snapshot.key_id]
    assert list(repo.add_target("v1", b"one")) == ["targets"]


def test_repo_add_and_remove_targets(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)

    added = repo.add_target("v1", b"one")
    removed = repo.remove_target("v1")

    assert list(added) == list(removed) == ["targets", "snapshot"]
    assert signed_of(added["targets"])["targets"] == {"v1": file_meta(b"one")}
    assert signed_of(removed["targets"])["targets"] == {}
    assert [version_of(added["targets"]), version_of(removed["targets"])] == [2, 3]
    assert [version_of(added["snapshot"]), version_of(removed["snapshot"])] == [2, 3]
    check_signed_by_roles(repo, removed)


def test_repo_root_rotation_is_signed_by_old_and_new_root_keys(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)
    old = repo.root_key

    files = repo.rotate_root()

    new = repo.root_key
    assert new != old
    assert list(files) == ["root", "snapshot"]
    root = signed_of(files["root"])
    assert root["version"] == 2
    assert list(root_keys_of(root, "root")) == [new.key_id]
    keys = root["keys"]
    assert isinstance(keys, dict)
    assert old.key_id in keys
    both = {old.key_id: old.public, new.key_id: new.public}
    assert valid_signers(files["root"], both) == [new.key_id, old.key_id]
    check_signed_by_roles(repo, files)

    after = repo.rotate_root(Key.root_certificate(GUN, "rsa"))

    assert version_of(after["root"]) == 3
    assert repo.root_key.public.keytype == "rsa-x509"
    assert valid_signers(after["root"], {new.key_id: new.public}) == [new.key_id]


def test_repo_snapshot_key_moves_to_the_server_and_back(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)
    server_snapshot = Key.generate("ed25519").public

    to_server = repo.server_snapshot(server_snapshot)
    while_server = repo.add_target("v2", b"two")
    to_client = repo.client_snapshot(snapshot_version=9)

    assert list(to_server) == ["root"]
    assert list(root_keys_of(signed_of(to_server["root"]), "snapshot")) == [server_snapshot.key_id]
    assert list(while_server) == ["targets"]
    assert list(to_client) == ["root", "snapshot"]
    assert repo.snapshot_key is not None
    assert list(root_keys_of(signed_of(to_client["root"]), "snapshot")) == [repo.snapshot_key.key_id]
    assert version_of(to_client["snapshot"]) == 9
    assert version_of(to_client["root"]) == 3
    check_signed_by_roles(repo, to_client)


def test_repo_key_rotations_for_targets_and_timestamp(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)
    old_targets = repo.targets_key
    new_timestamp = Key.from_public(Key.generate("ed25519").public)

    targets_rotation = repo.rotate_targets_key()

    assert list(targets_rotation) == ["root", "targets", "snapshot"]
    assert repo.targets_key != old_targets
    check_signed_by_roles(repo, targets_rotation)

    timestamp_rotation = repo.server_timestamp(new_timestamp.public)

    assert list(timestamp_rotation) == ["root", "snapshot"]
    assert list(root_keys_of(repo.root(), "timestamp")) == [new_timestamp.key_id]


def test_repo_delegation_flow(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)
    releases = Key.root_certificate("releases")

    added = repo.add_delegation("targets/releases", releases)
    published = repo.publish_delegation_target("targets/releases", "v3", b"three")

    assert list(added) == ["targets", "snapshot"]
    assert list(delegation_keys_of(signed_of(added["targets"]), "targets/releases")) == [releases.key_id]
    assert list(published) == ["targets/releases", "snapshot"]
    delegation = signed_of(published["targets/releases"])
    assert delegation["targets"] == {"v3": file_meta(b"three")}
    assert delegation["version"] == 1
    assert list(signed_of(published["snapshot"])["meta"]) == ["root", "targets", "targets/releases"]
    check_signed_by_roles(repo, published)

    nested = repo.add_delegation("targets/releases/beta", [Key.generate()], paths=["beta/"])
    nested_published = repo.add_target("beta/v4", b"four", role="targets/releases/beta")

    assert list(nested) == ["targets/releases", "snapshot"]
    assert signed_of(nested["targets/releases"])["delegations"]["roles"][0]["paths"] == ["beta/"]
    assert list(nested_published) == ["targets/releases/beta", "snapshot"]
    check_signed_by_roles(repo, nested_published)


def test_repo_cannot_publish_for_a_delegation_it_holds_no_key_of(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)
    someone_else = Key.from_public(Key.generate().public)
    repo.add_delegation("targets/theirs", someone_else)

    with pytest.raises(MissingPrivateKeyError):
        repo.publish_delegation_target("targets/theirs", "x", b"x")
    signer = Key.generate()
    data = repo.publish_delegation_target("targets/theirs", "x", b"x", signers=[signer])
    assert valid_signers(data["targets/theirs"], {signer.key_id: signer.public}) == [signer.key_id]


def test_repo_versions_only_increase_over_a_whole_flow(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    uploads = [
        repo.init(server_timestamp),
        repo.add_target("v1", b"one"),
        repo.server_snapshot(Key.generate("ed25519").public),
        repo.add_target("v2", b"two"),
        repo.add_delegation("targets/releases", Key.generate()),
        repo.publish_delegation_target("targets/releases", "v3", b"three"),
        repo.client_snapshot(snapshot_version=20),
        repo.add_target("v4", b"four"),
        repo.rotate_targets_key(),
        repo.rotate_root(),
        repo.remove_target("v1"),
    ]

    last: dict[str, int] = {}
    for files in uploads:
        for role, data in files.items():
            version = version_of(data)
            assert version > last.get(role, 0), f"{role} went from {last.get(role)} to {version}"
            last[role] = version
    check_signed_by_roles(repo, uploads[-1])
    assert last == {"root": 5, "targets": 7, "snapshot": 24, "targets/releases": 1}
    assert repo.versions == last


def test_repo_refuses_a_second_init_and_unknown_roles(server_timestamp: Key) -> None:
    repo = Repo(GUN)
    repo.init(server_timestamp)

    with pytest.raises(ValueError, match="already"):
        repo.init(server_timestamp)
    with pytest.raises(ValueError, match="unknown targets role"):
        repo.add_target("x", b"x", role="targets/missing")
    with pytest.raises(ValueError, match="unknown targets role"):
        repo.add_delegation("targets/missing/child", Key.generate())
