"""check_snapshot: §2.5 step 2.3 for an uploaded snapshot, rule by rule, with notary's messages."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from notary.tuf.checks import RootInfo, check_snapshot, go_expiry_text
from notary.tuf.errors import BadSnapshotError
from tests.support.tuf_builder import Delegation, Key
from tests.unit.tuf_checks.helpers import NOW, RootKeys, accepted_root, make_root, make_snapshot, make_targets


class Repo:
    def __init__(self) -> None:
        self.keys = RootKeys()
        self.root_file = make_root(self.keys)
        self.root: RootInfo = accepted_root(self.keys)
        self.releases_key = Key.generate("ecdsa")
        self.targets_file = make_targets(
            "targets", [self.keys.targets], delegations=[Delegation("targets/releases", [self.releases_key])]
        )
        self.releases_file = make_targets("targets/releases", [self.releases_key], targets={"v": b"v"})
        self.files = {
            "root": self.root_file.raw,
            "targets": self.targets_file.raw,
            "targets/releases": self.releases_file.raw,
        }

    def snapshot(self, files: dict[str, bytes] | None = None, **options: Any) -> Any:
        signers = options.pop("signers", [self.keys.snapshot])
        return make_snapshot(self.files if files is None else files, signers, **options)


@pytest.fixture(scope="module")
def repo() -> Repo:
    return Repo()


def _refused(repo: Repo, snapshot: Any, loaded: dict[str, bytes] | None = None) -> str:
    with pytest.raises(BadSnapshotError) as caught:
        check_snapshot(snapshot, repo.root, repo.files if loaded is None else loaded, NOW)
    assert caught.value.detail()["Name"] == "ErrBadSnapshot"
    return caught.value.msg


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(signed: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = signed
        for part in parents:
            target = target[part]
        target[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def edit(signed: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = signed
        for part in parents:
            target = target[part]
        del target[last]

    return edit


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------------------------------------- accepted


def test_snapshot_over_every_loaded_file_is_accepted(repo: Repo) -> None:
    check_snapshot(repo.snapshot(), repo.root, repo.files, NOW)


def test_only_loaded_files_are_compared(repo: Repo) -> None:
    """A snapshot-only upload may record a targets hash the server never saw."""
    other = {"root": repo.files["root"], "targets": b"bytes the server never saw"}
    check_snapshot(repo.snapshot(other), repo.root, {}, NOW)
    check_snapshot(repo.snapshot(other), repo.root, {"root": repo.files["root"]}, NOW)


def test_entries_for_files_not_loaded_are_kept_unchecked(repo: Repo) -> None:
    check_snapshot(repo.snapshot(), repo.root, {"targets/releases": repo.files["targets/releases"]}, NOW)


def test_sha256_alone_is_enough(repo: Repo) -> None:
    def edit(signed: dict[str, Any]) -> None:
        for entry in signed["meta"].values():
            del entry["hashes"]["sha512"]
            del entry["length"]

    check_snapshot(repo.snapshot(edit=edit), repo.root, repo.files, NOW)


def test_snapshot_and_timestamp_in_loaded_are_ignored(repo: Repo) -> None:
    loaded = dict(repo.files, snapshot=b"whatever", timestamp=b"whatever")
    check_snapshot(repo.snapshot(), repo.root, loaded, NOW)


def test_snapshot_expiring_exactly_now_is_accepted(repo: Repo) -> None:
    check_snapshot(repo.snapshot(expires=NOW), repo.root, repo.files, NOW)


# ----------------------------------------------------------------------------------------- signatures


def test_unsigned_snapshot_is_refused(repo: Repo) -> None:
    assert _refused(repo, repo.snapshot(signers=[])) == "valid signatures did not meet threshold for snapshot"


def test_snapshot_signed_by_another_role_key_is_refused(repo: Repo) -> None:
    snapshot = repo.snapshot(signers=[repo.keys.targets, repo.keys.root, repo.keys.timestamp])
    assert _refused(repo, snapshot) == "valid signatures did not meet threshold for snapshot"


def test_signature_check_comes_before_structure(repo: Repo) -> None:
    snapshot = repo.snapshot(signers=[], edit=_set("_type", "Root"))
    assert _refused(repo, snapshot) == "valid signatures did not meet threshold for snapshot"


# ------------------------------------------------------------------------------------------ structure


def test_wrong_type_is_refused(repo: Repo) -> None:
    message = _refused(repo, repo.snapshot(edit=_set("_type", "Timestamp")))
    assert message == "snapshot type metadata invalid: expected type Snapshot, not Timestamp"


def test_version_zero_is_refused(repo: Repo) -> None:
    message = _refused(repo, repo.snapshot(version=0))
    assert message == "snapshot type metadata invalid: version cannot be less than one"


@pytest.mark.parametrize("edit", [_delete("meta"), _set("meta", []), _set("meta", "x")])
def test_meta_must_be_an_object(repo: Repo, edit: Callable[[dict[str, Any]], None]) -> None:
    assert (
        _refused(repo, repo.snapshot(edit=edit)) == "snapshot type metadata invalid: meta must be an object"
    )


@pytest.mark.parametrize("role", ["root", "targets"])
def test_root_and_targets_entries_are_required(repo: Repo, role: str) -> None:
    message = _refused(repo, repo.snapshot(edit=_delete(f"meta.{role}")), loaded={})
    assert message == f"snapshot type metadata invalid: missing {role} sha256 checksum information"


@pytest.mark.parametrize("role", ["root", "targets"])
def test_root_and_targets_need_a_sha256(repo: Repo, role: str) -> None:
    message = _refused(repo, repo.snapshot(edit=_delete(f"meta.{role}.hashes.sha256")), loaded={})
    assert message == f"snapshot type metadata invalid: missing {role} sha256 checksum information"


@pytest.mark.parametrize("role", ["root", "targets"])
@pytest.mark.parametrize(("algorithm", "size"), [("sha256", 31), ("sha256", 64), ("sha512", 32)])
def test_root_and_targets_hashes_must_have_the_right_size(
    repo: Repo, role: str, algorithm: str, size: int
) -> None:
    snapshot = repo.snapshot(edit=_set(f"meta.{role}.hashes.{algorithm}", _b64(b"\0" * size)))
    message = _refused(repo, snapshot, loaded={})
    prefix = "snapshot type metadata invalid:"
    assert message == f"{prefix} invalid {role} checksum information, {algorithm} checksum invalid"


@pytest.mark.parametrize("role", ["root", "targets", "targets/releases"])
@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("x", "must be an object"),
        ({"length": -1, "hashes": {}}, "length must be a non-negative integer"),
        ({"length": 1, "hashes": "x"}, "hashes must be an object"),
        ({"length": 1, "hashes": {"sha256": "@@@@"}}, "sha256 hash is not valid base64"),
        ({"length": 1, "hashes": {"md5": 7}}, "md5 hash must be a base64 string"),
    ],
)
def test_every_meta_entry_must_be_well_formed(repo: Repo, role: str, entry: Any, problem: str) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["meta"][role] = entry

    message = _refused(repo, repo.snapshot(edit=edit), loaded={})
    assert message == f"snapshot type metadata invalid: invalid {role} checksum information, {problem}"


# ---------------------------------------------------------------------------------------------- expiry


def test_expired_snapshot_is_refused(repo: Repo) -> None:
    expires = NOW - timedelta(hours=1)
    message = _refused(repo, repo.snapshot(expires=expires))
    assert message == f"snapshot expired at {go_expiry_text(expires)}"
    assert message == "snapshot expired at Thu Dec 31 23:00:00 UTC 2026"


# ------------------------------------------------------------------------------------ loaded files


@pytest.mark.parametrize("role", ["root", "targets", "targets/releases"])
def test_loaded_file_must_match_its_sha256(repo: Repo, role: str) -> None:
    snapshot = repo.snapshot(dict(repo.files, **{role: repo.files[role] + b" "}))
    expected = hashlib.sha256(repo.files[role] + b" ").hexdigest()
    assert _refused(repo, snapshot) == f"sha256 checksum for {role} did not match: expected {expected}"


def test_loaded_file_must_match_its_sha512(repo: Repo) -> None:
    wrong = hashlib.sha512(b"other").digest()
    snapshot = repo.snapshot(edit=_set("meta.targets.hashes.sha512", _b64(wrong)))
    assert _refused(repo, snapshot) == f"sha512 checksum for targets did not match: expected {wrong.hex()}"


def test_loaded_file_must_match_its_length(repo: Repo) -> None:
    size = len(repo.files["targets/releases"])
    snapshot = repo.snapshot(edit=_set("meta.targets/releases.length", size + 1))
    message = _refused(repo, snapshot)
    assert message == f"length for targets/releases did not match: expected {size + 1}, got {size}"


def test_loaded_delegation_must_be_recorded(repo: Repo) -> None:
    snapshot = repo.snapshot({"root": repo.files["root"], "targets": repo.files["targets"]})
    message = _refused(repo, snapshot)
    assert message == "no checksums for supported algorithms were provided for targets/releases"


def test_loaded_delegation_entry_without_supported_hashes_is_refused(repo: Repo) -> None:
    snapshot = repo.snapshot(edit=_set("meta.targets/releases.hashes", {"md5": _b64(b"x" * 16)}))
    message = _refused(repo, snapshot)
    assert message == "no checksums for supported algorithms were provided for targets/releases"


def test_loaded_delegation_needs_a_sha256(repo: Repo) -> None:
    snapshot = repo.snapshot(edit=_delete("meta.targets/releases.hashes.sha256"))
    message = _refused(repo, snapshot)
    assert message == "snapshot type metadata invalid: missing targets/releases sha256 checksum information"


def test_wrong_size_hash_of_a_loaded_delegation_is_a_mismatch(repo: Repo) -> None:
    short = bytes([1] * 8)
    snapshot = repo.snapshot(edit=_set("meta.targets/releases.hashes.sha256", _b64(short)))
    message = _refused(repo, snapshot)
    assert message == f"sha256 checksum for targets/releases did not match: expected {short.hex()}"


def test_files_are_compared_root_first(repo: Repo) -> None:
    broken = {role: data + b"!" for role, data in repo.files.items()}
    message = _refused(repo, repo.snapshot(broken))
    assert message.startswith("sha256 checksum for root did not match")
