"""check_targets and check_delegation_exists: §2.5 step 2.2, rule by rule, with notary's messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from notary.tuf.checks import RootInfo, TargetsInfo, check_delegation_exists, check_targets, go_expiry_text
from notary.tuf.errors import BadTargetsError
from notary.tuf.keys import PublicKey
from notary.tuf.verify import RoleKeys
from tests.support.tuf_builder import Delegation, Key, sign_file, targets_signed
from tests.unit.tuf_checks.helpers import EXPIRES, NOW, RootKeys, accepted_root, make_targets, parse, root_key


class Repo:
    """A root, its targets key, and a delegation targets/releases with its own key."""

    def __init__(self) -> None:
        self.keys = RootKeys()
        self.root: RootInfo = accepted_root(self.keys)
        self.releases_key = Key.generate("ecdsa")
        self.releases = Delegation("targets/releases", [self.releases_key])

    @property
    def targets_signer(self) -> tuple[RoleKeys, dict[str, PublicKey]]:
        return self.root.roles["targets"], self.root.keys

    def targets(self, **options: Any) -> Any:
        options.setdefault("delegations", [self.releases])
        signers = options.pop("signers", [self.keys.targets])
        return make_targets("targets", signers, **options)

    def check(self, metadata: Any, now: datetime = NOW, **options: Any) -> TargetsInfo:
        signer, keys = self.targets_signer
        return check_targets(metadata, signer, keys, now, **options)

    def parent(self) -> TargetsInfo:
        return self.check(self.targets())


@pytest.fixture(scope="module")
def repo() -> Repo:
    return Repo()


def _refused(check: Callable[[], object]) -> str:
    with pytest.raises(BadTargetsError) as caught:
        check()
    assert caught.value.detail()["Name"] == "ErrBadTargets"
    return caught.value.msg


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(signed: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = signed
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
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


# ---------------------------------------------------------------------------------------------- accepted


def test_targets_signed_by_roots_targets_key_is_accepted(repo: Repo) -> None:
    metadata = repo.targets(targets={"v1": b"one", "v2": b"two"})
    info = repo.check(metadata)
    assert info.metadata is metadata
    assert info.keys == {repo.releases_key.key_id: repo.releases_key.public}
    assert info.delegations == {"targets/releases": RoleKeys((repo.releases_key.key_id,), 1)}


def test_empty_targets_without_delegations_is_accepted(repo: Repo) -> None:
    info = repo.check(repo.targets(delegations=[]))
    assert (info.keys, info.delegations) == ({}, {})


@pytest.mark.parametrize("edit", [_delete("delegations"), _set("delegations", {}), _set("delegations", None)])
def test_delegations_may_be_absent_or_empty(repo: Repo, edit: Callable[[dict[str, Any]], None]) -> None:
    info = repo.check(repo.targets(delegations=[], edit=edit))
    assert info.delegations == {}


def test_delegation_keys_and_roles_may_be_absent(repo: Repo) -> None:
    assert repo.check(repo.targets(edit=_set("delegations", {"keys": {}}))).delegations == {}
    assert repo.check(repo.targets(delegations=[], edit=_set("delegations", {"roles": []}))).delegations == {}


def test_target_custom_data_and_unusual_hashes_are_allowed(repo: Repo) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["targets"]["v1"]["custom"] = {"anything": [1, "x"]}
        signed["targets"]["v1"]["hashes"]["blake2b"] = "AAAA"

    repo.check(repo.targets(targets={"v1": b"x"}, edit=edit))


def test_target_with_no_hashes_and_length_zero_is_structurally_fine(repo: Repo) -> None:
    repo.check(repo.targets(edit=_set("targets", {"empty": {"length": 0, "hashes": {}}})))


def test_delegation_signed_by_its_delegated_key_is_accepted(repo: Repo) -> None:
    parent = repo.parent()
    signer = check_delegation_exists("targets/releases", parent)
    assert signer == RoleKeys((repo.releases_key.key_id,), 1)
    metadata = make_targets("targets/releases", [repo.releases_key], targets={"v3": b"three"})
    info = check_targets(metadata, signer, parent.keys, NOW)
    assert info.delegations == {}


def test_delegation_may_delegate_further(repo: Repo) -> None:
    deeper_key = Key.generate("ed25519")
    metadata = make_targets(
        "targets/releases", [repo.releases_key], delegations=[Delegation("targets/releases/rc", [deeper_key])]
    )
    info = check_targets(
        metadata, check_delegation_exists("targets/releases", repo.parent()), repo.parent().keys, NOW
    )
    assert check_delegation_exists("targets/releases/rc", info) == RoleKeys((deeper_key.key_id,), 1)


def test_delegation_paths_are_not_enforced(repo: Repo) -> None:
    narrow = Delegation("targets/releases", [repo.releases_key], paths=["only/here/"])
    parent = repo.check(repo.targets(delegations=[narrow]))
    metadata = make_targets("targets/releases", [repo.releases_key], targets={"elsewhere/v9": b"nine"})
    check_targets(metadata, check_delegation_exists("targets/releases", parent), parent.keys, NOW)


def test_certificate_delegation_key_is_accepted(repo: Repo) -> None:
    cert_key = root_key("anything at all")
    parent = repo.check(repo.targets(delegations=[Delegation("targets/releases", [cert_key])]))
    metadata = make_targets("targets/releases", [cert_key])
    check_targets(metadata, check_delegation_exists("targets/releases", parent), parent.keys, NOW)


# ------------------------------------------------------------------------------------------ role name


@pytest.mark.parametrize("role", ["snapshot", "root", "timestamp", "targets/BAD", "targets/", "other"])
def test_role_must_be_targets_or_a_delegation(repo: Repo, role: str) -> None:
    metadata = parse(role, sign_file(targets_signed(expires=EXPIRES), [repo.keys.targets]))
    assert _refused(lambda: repo.check(metadata)) == f"tuf: invalid role {role}."


# ------------------------------------------------------------------------------------------ structure


def test_wrong_type_is_refused(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("_type", "Root"))))
    assert message == "targets type metadata invalid: expected type Targets, not Root"


def test_delegation_structure_errors_name_the_delegation(repo: Repo) -> None:
    parent = repo.parent()
    metadata = make_targets("targets/releases", [repo.releases_key], edit=_set("_type", "targets"))
    signer = check_delegation_exists("targets/releases", parent)
    message = _refused(lambda: check_targets(metadata, signer, parent.keys, NOW))
    assert message == "targets/releases type metadata invalid: expected type Targets, not targets"


def test_version_zero_is_refused(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(version=0)))
    assert message == "targets type metadata invalid: version cannot be less than one"


@pytest.mark.parametrize("edit", [_delete("targets"), _set("targets", []), _set("targets", None)])
def test_targets_must_be_an_object(repo: Repo, edit: Callable[[dict[str, Any]], None]) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=edit)))
    assert message == "targets type metadata invalid: targets must be an object"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("v1", "must be an object"),
        ({"hashes": {}}, "length is missing"),
        ({"length": -1, "hashes": {}}, "length must be a non-negative integer"),
        ({"length": "9", "hashes": {}}, "length must be a non-negative integer"),
        ({"length": True, "hashes": {}}, "length must be a non-negative integer"),
        ({"length": 9}, "hashes are missing"),
        ({"length": 9, "hashes": []}, "hashes must be an object"),
        ({"length": 9, "hashes": {"sha256": 5}}, "sha256 hash must be a base64 string"),
        ({"length": 9, "hashes": {"sha256": "not base64!"}}, "sha256 hash is not valid base64"),
    ],
)
def test_target_entries_need_length_and_hashes(repo: Repo, entry: Any, problem: str) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("targets", {"v1": entry}))))
    assert message == f"targets type metadata invalid: target 'v1': {problem}"


@pytest.mark.parametrize("value", [[], "x", 3])
def test_delegations_must_be_an_object(repo: Repo, value: Any) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations", value))))
    assert message == "targets type metadata invalid: delegations must be an object"


def test_delegation_keys_must_be_an_object(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations.keys", []))))
    assert message == "targets type metadata invalid: delegations.keys must be an object"


def test_delegation_roles_must_be_a_list(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations.roles", {}))))
    assert message == "targets type metadata invalid: delegations.roles must be a list"


@pytest.mark.parametrize("entry", ["targets/releases", {"keyids": [], "threshold": 1}, {"name": 5}])
def test_delegation_role_needs_a_name(repo: Repo, entry: Any) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations.roles", [entry]))))
    assert (
        message == "targets type metadata invalid: each delegation role must be an object with a string name"
    )


@pytest.mark.parametrize(
    "name",
    [
        "targets/BAD",
        "targets/a/b",
        "targets",
        "root",
        "snapshot/x",
        "targets/a//b",
        "targets/./a",
        "targets/x/",
    ],
)
def test_delegation_must_be_a_valid_direct_child(repo: Repo, name: str) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations.roles.0.name", name))))
    assert message == f"targets type metadata invalid: delegation role {name} invalid"


def test_delegation_of_another_branch_is_refused(repo: Repo) -> None:
    parent = repo.parent()
    signer = check_delegation_exists("targets/releases", parent)
    other = Delegation("targets/other/x", [repo.releases_key])
    metadata = make_targets("targets/releases", [repo.releases_key], delegations=[other])
    message = _refused(lambda: check_targets(metadata, signer, parent.keys, NOW))
    assert message == "targets/releases type metadata invalid: delegation role targets/other/x invalid"


def test_delegation_listed_twice_is_refused(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(delegations=[repo.releases, repo.releases])))
    assert (
        message == "targets type metadata invalid: delegation role targets/releases is listed more than once"
    )


@pytest.mark.parametrize("threshold", [0, -2, "1", None])
def test_delegation_threshold_must_be_at_least_one(repo: Repo, threshold: Any) -> None:
    message = _refused(
        lambda: repo.check(repo.targets(edit=_set("delegations.roles.0.threshold", threshold)))
    )
    assert (
        message
        == f"targets type metadata invalid: invalid threshold specified for targets/releases: {threshold}"
    )


def test_delegation_keyids_must_be_in_delegation_keys(repo: Repo) -> None:
    stranger = Key.generate("ecdsa")
    message = _refused(
        lambda: repo.check(repo.targets(edit=_set("delegations.roles.0.keyids", [stranger.key_id])))
    )
    assert message == (
        f"targets type metadata invalid: key ID {stranger.key_id} specified in targets/releases"
        " without corresponding key"
    )


def test_delegation_key_must_be_valid(repo: Repo) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["delegations"]["keys"][repo.releases_key.key_id]["keyval"]["public"] = "not base64"

    message = _refused(lambda: repo.check(repo.targets(edit=edit)))
    assert message.startswith(f"targets type metadata invalid: invalid key {repo.releases_key.key_id}:")


def test_delegation_key_under_a_wrong_id_is_refused(repo: Repo) -> None:
    other = Key.generate("ecdsa")

    def edit(signed: dict[str, Any]) -> None:
        signed["delegations"]["keys"][repo.releases_key.key_id] = other.public.to_dict()

    message = _refused(lambda: repo.check(repo.targets(edit=edit)))
    assert message.startswith(
        f"targets type metadata invalid: key ID {repo.releases_key.key_id} does not match"
    )


@pytest.mark.parametrize("paths", ["", [1], {"a": "b"}])
def test_delegation_paths_must_be_a_list_of_strings(repo: Repo, paths: Any) -> None:
    message = _refused(lambda: repo.check(repo.targets(edit=_set("delegations.roles.0.paths", paths))))
    assert message == (
        "targets type metadata invalid: paths of delegation role targets/releases must be a list of strings"
    )


# ----------------------------------------------------------------------------------------- signatures


def test_unsigned_targets_is_refused(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(signers=[])))
    assert message == "valid signatures did not meet threshold for targets"


def test_targets_signed_by_another_key_is_refused(repo: Repo) -> None:
    message = _refused(lambda: repo.check(repo.targets(signers=[repo.keys.snapshot, repo.keys.root])))
    assert message == "valid signatures did not meet threshold for targets"


def test_targets_threshold_is_honoured(repo: Repo) -> None:
    second = Key.generate("ecdsa")
    keys = {repo.keys.targets.key_id: repo.keys.targets.public, second.key_id: second.public}
    signer = RoleKeys((repo.keys.targets.key_id, second.key_id), 2)
    one = repo.targets(signers=[repo.keys.targets])
    message = _refused(lambda: check_targets(one, signer, keys, NOW))
    assert message == "valid signatures did not meet threshold for targets"
    check_targets(repo.targets(signers=[repo.keys.targets, second]), signer, keys, NOW)


def test_delegation_signed_by_the_parent_key_is_refused(repo: Repo) -> None:
    parent = repo.parent()
    metadata = make_targets("targets/releases", [repo.keys.targets])
    signer = check_delegation_exists("targets/releases", parent)
    message = _refused(lambda: check_targets(metadata, signer, parent.keys, NOW))
    assert message == "valid signatures did not meet threshold for targets/releases"


# ---------------------------------------------------------------------------------------------- expiry


def test_expired_targets_is_refused(repo: Repo) -> None:
    expires = NOW - timedelta(minutes=5)
    message = _refused(lambda: repo.check(repo.targets(expires=expires)))
    assert message == f"targets expired at {go_expiry_text(expires)}"
    assert message == "targets expired at Thu Dec 31 23:55:00 UTC 2026"


def test_expired_targets_may_be_allowed_for_stored_ancestors(repo: Repo) -> None:
    metadata = repo.targets(expires=NOW - timedelta(days=1))
    repo.check(metadata, allow_expired=True)


def test_expired_delegation_names_itself(repo: Repo) -> None:
    parent = repo.parent()
    expires = NOW - timedelta(days=3)
    metadata = make_targets("targets/releases", [repo.releases_key], expires=expires)
    signer = check_delegation_exists("targets/releases", parent)
    message = _refused(lambda: check_targets(metadata, signer, parent.keys, NOW))
    assert message == f"targets/releases expired at {go_expiry_text(expires)}"


def test_targets_expiring_exactly_now_is_accepted(repo: Repo) -> None:
    repo.check(repo.targets(expires=NOW))


# ------------------------------------------------------------------------------- delegation lookup


def test_missing_delegation_does_not_exist(repo: Repo) -> None:
    parent = repo.parent()
    message = _refused(lambda: check_delegation_exists("targets/nope", parent))
    assert message == "tuf: invalid role targets/nope. delegation does not exist"


def test_grandchild_is_not_declared_by_the_grandparent(repo: Repo) -> None:
    message = _refused(lambda: check_delegation_exists("targets/x/y", repo.parent()))
    assert message == "tuf: invalid role targets/x/y. delegation does not exist"


@pytest.mark.parametrize("role", ["targets", "root", "targets/BAD", "targets//x"])
def test_delegation_lookup_needs_a_delegation_name(repo: Repo, role: str) -> None:
    message = _refused(lambda: check_delegation_exists(role, repo.parent()))
    assert message == f"tuf: invalid role {role}. invalid delegation name"
