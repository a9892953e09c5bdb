"""The real Go client's uploads (tests/fixtures/notary) pass the checks, and fail them once altered.

The flow's clock: the root certificates are valid from 2026-11-21 20:53 for ten years, targets and
snapshots expire 2029-11-20, roots 2036-11-18. Every check gets an explicit ``now`` inside that window.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.x509.oid import NameOID

from notary.tuf.checks import (
    RootInfo,
    TargetsInfo,
    check_delegation_exists,
    check_root,
    check_snapshot,
    check_targets,
)
from notary.tuf.errors import BadRootError, BadSnapshotError, BadTargetsError
from notary.tuf.metadata import SignedMetadata, parse_metadata

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "notary"
GUN = "example.com/interop/app1"
NOW = datetime(2027, 1, 1, tzinfo=UTC)
# The root uploads in the order of their versions (1..6), which is the order the client made them.
ROOT_STEPS = (
    "init_publish",
    "rotate_snapshot_-r__server_",
    "rotate_timestamp_-r",
    "rotate_targets_key__client_",
    "rotate_root_key",
    "rotate_snapshot__client_",
)


def _load(name: str, role: str) -> SignedMetadata:
    return parse_metadata(role, (FIXTURES / name).read_bytes())


def _root(step: str) -> SignedMetadata:
    return _load(f"upload-{step}-root.json", "root")


@pytest.fixture(scope="module")
def init_root() -> RootInfo:
    return check_root(_root("init_publish"), None, GUN, NOW)


def _delegating_targets(root: RootInfo) -> TargetsInfo:
    metadata = _load("upload-delegation_add___publish-targets.json", "targets")
    return check_targets(metadata, root.roles["targets"], root.keys, NOW)


# ------------------------------------------------------------------------------------------------- root


def test_the_gun_is_the_certificate_cn(init_root: RootInfo) -> None:
    (key_id,) = init_root.roles["root"].keyids
    certificate = init_root.keys[key_id].certificate()
    assert certificate is not None
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GUN
    assert certificate.not_valid_before_utc < NOW < certificate.not_valid_after_utc


def test_init_root_is_accepted(init_root: RootInfo) -> None:
    assert init_root.metadata.version == 1
    assert set(init_root.roles) == {"root", "targets", "snapshot", "timestamp"}
    assert {key.keytype for key in init_root.keys.values()} == {"ecdsa", "ecdsa-x509", "ed25519"}


def test_init_root_is_refused_for_another_gun() -> None:
    with pytest.raises(
        BadRootError,
        match=r"^could not validate the path to a trusted root: unable to retrieve valid leaf certificates$",
    ):
        check_root(_root("init_publish"), None, "example.com/interop/app2", NOW)


def test_init_root_is_refused_before_its_certificate_is_valid() -> None:
    with pytest.raises(
        BadRootError,
        match=r"^could not validate the path to a trusted root: unable to retrieve valid leaf certificates$",
    ):
        check_root(_root("init_publish"), None, GUN, datetime(2026, 11, 19, tzinfo=UTC))


def test_init_root_is_refused_after_it_expires() -> None:
    with pytest.raises(
        BadRootError,
        match=r"^could not validate the path to a trusted root: unable to retrieve valid leaf certificates$",
    ):
        check_root(_root("init_publish"), None, GUN, datetime(2037, 1, 1, tzinfo=UTC))


def test_root_steps_are_versions_one_to_six() -> None:
    assert [_root(step).version for step in ROOT_STEPS] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("index", range(1, len(ROOT_STEPS)), ids=lambda i: ROOT_STEPS[i])
def test_each_root_rotates_from_the_one_before(index: int) -> None:
    previous = RootInfo.from_metadata(_root(ROOT_STEPS[index - 1]))
    info = check_root(_root(ROOT_STEPS[index]), previous, GUN, NOW)
    assert info.metadata.version == index + 1


def test_whole_root_chain_validates_step_by_step() -> None:
    previous: RootInfo | None = None
    for step in ROOT_STEPS:
        previous = check_root(_root(step), previous, GUN, NOW)
    assert previous is not None
    assert previous.metadata.version == 6


def test_root_key_rotation_carries_old_and_new_signatures() -> None:
    previous = check_root(_root("rotate_targets_key__client_"), None, GUN, NOW)
    new = _root("rotate_root_key")
    info = check_root(new, previous, GUN, NOW)
    assert info.roles["root"].keyids != previous.roles["root"].keyids
    # Strip the old root key's signature: the rotation no longer carries the trusted threshold.
    (old_id,) = previous.roles["root"].keyids
    document = json.loads(new.raw)
    document["signatures"] = [s for s in document["signatures"] if s["keyid"] != old_id]
    stripped = parse_metadata("root", json.dumps(document).encode())
    with pytest.raises(BadRootError, match="could not rotate trust to a new trusted root"):
        check_root(stripped, previous, GUN, NOW)


def test_root_rotation_may_not_skip_versions(init_root: RootInfo) -> None:
    with pytest.raises(
        BadRootError, match=r"^Root modifications must increment the version\. Current 1, new 5$"
    ):
        check_root(_root("rotate_root_key"), init_root, GUN, NOW)


def test_root_after_the_key_rotation_is_not_signed_by_the_first_root_key() -> None:
    # rotate_snapshot__client_ is signed by the new root key only; as a successor of a root whose root
    # key was the original one (version 5 made up by relabelling rotate_targets_key's version) it fails.
    document = json.loads(_root("rotate_targets_key__client_").raw)
    document["signed"]["version"] = 5
    fake_previous = RootInfo.from_metadata(parse_metadata("root", json.dumps(document).encode()))
    with pytest.raises(BadRootError, match="could not rotate trust"):
        check_root(_root("rotate_snapshot__client_"), fake_previous, GUN, NOW)


# ---------------------------------------------------------------------------------------------- targets


def test_init_targets_is_accepted(init_root: RootInfo) -> None:
    metadata = _load("upload-init_publish-targets.json", "targets")
    info = check_targets(metadata, init_root.roles["targets"], init_root.keys, NOW)
    assert info.delegations == {}


def test_init_targets_fails_against_the_rotated_targets_key() -> None:
    rotated = RootInfo.from_metadata(_root("rotate_targets_key__client_"))
    metadata = _load("upload-init_publish-targets.json", "targets")
    with pytest.raises(BadTargetsError, match=r"^valid signatures did not meet threshold for targets$"):
        check_targets(metadata, rotated.roles["targets"], rotated.keys, NOW)


def test_init_targets_expires_in_2029(init_root: RootInfo) -> None:
    metadata = _load("upload-init_publish-targets.json", "targets")
    late = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(BadTargetsError, match=r"^targets expired at Tue Nov 20 20:53:00 UTC 2029$"):
        check_targets(metadata, init_root.roles["targets"], init_root.keys, late)


def test_delegation_upload_is_accepted_against_its_parent(init_root: RootInfo) -> None:
    parent = _delegating_targets(init_root)
    assert set(parent.delegations) == {"targets/releases"}
    signer = check_delegation_exists("targets/releases", parent)
    assert signer.threshold == 1
    metadata = _load("upload-add_v3_via_delegation-targets_releases.json", "targets/releases")
    info = check_targets(metadata, signer, parent.keys, NOW)
    assert info.metadata.version == 1


def test_delegation_upload_is_refused_without_the_delegation(init_root: RootInfo) -> None:
    parent = check_targets(
        _load("upload-init_publish-targets.json", "targets"), init_root.roles["targets"], init_root.keys, NOW
    )
    with pytest.raises(
        BadTargetsError, match=r"^tuf: invalid role targets/releases\. delegation does not exist$"
    ):
        check_delegation_exists("targets/releases", parent)


def test_delegation_upload_is_refused_with_the_parents_key(init_root: RootInfo) -> None:
    metadata = _load("upload-add_v3_via_delegation-targets_releases.json", "targets/releases")
    with pytest.raises(
        BadTargetsError, match=r"^valid signatures did not meet threshold for targets/releases$"
    ):
        check_targets(metadata, init_root.roles["targets"], init_root.keys, NOW)


# --------------------------------------------------------------------------------------------- snapshot


def test_init_snapshot_is_accepted(init_root: RootInfo) -> None:
    snapshot = _load("upload-init_publish-snapshot.json", "snapshot")
    targets = _load("upload-init_publish-targets.json", "targets")
    check_snapshot(snapshot, init_root, {"root": init_root.metadata.raw, "targets": targets.raw}, NOW)


def test_init_snapshot_does_not_match_later_targets(init_root: RootInfo) -> None:
    snapshot = _load("upload-init_publish-snapshot.json", "snapshot")
    later = (FIXTURES / "upload-add_v1___publish-targets.json").read_bytes()
    expected = base64.b64decode(snapshot.signed["meta"]["targets"]["hashes"]["sha256"]).hex()
    assert (
        expected == hashlib.sha256((FIXTURES / "upload-init_publish-targets.json").read_bytes()).hexdigest()
    )
    with pytest.raises(BadSnapshotError) as caught:
        check_snapshot(snapshot, init_root, {"root": init_root.metadata.raw, "targets": later}, NOW)
    assert caught.value.msg == f"sha256 checksum for targets did not match: expected {expected}"


def test_init_snapshot_is_refused_under_a_root_with_another_snapshot_key() -> None:
    server_snapshot = RootInfo.from_metadata(_root("rotate_snapshot_-r__server_"))
    snapshot = _load("upload-init_publish-snapshot.json", "snapshot")
    with pytest.raises(BadSnapshotError, match=r"^valid signatures did not meet threshold for snapshot$"):
        check_snapshot(snapshot, server_snapshot, {}, NOW)
