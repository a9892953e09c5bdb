"""check_root and RootInfo.from_metadata: §2.5 step 2.1, rule by rule, with notary's messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from notary.tuf.checks import RootInfo, check_root, go_expiry_text
from notary.tuf.errors import BadRootError
from notary.tuf.verify import RoleKeys
from tests.support.tuf_builder import Key
from tests.unit.tuf_checks.helpers import GUN, NOW, RootKeys, make_root, root_key

NO_LEAF = "could not validate the path to a trusted root: unable to retrieve valid leaf certificates"
INTEGRITY = "could not validate the path to a trusted root: failed to validate integrity of roots"
ROTATION = (
    "could not rotate trust to a new trusted root: failed to validate data with current trusted certificates"
)


def _refused(new: Any, previous: RootInfo | None = None, *, gun: str = GUN, now: datetime = NOW) -> str:
    with pytest.raises(BadRootError) as caught:
        check_root(new, previous, gun, now)
    assert caught.value.detail()["Name"] == "ErrBadRoot"
    return caught.value.msg


@pytest.fixture
def keys() -> RootKeys:
    return RootKeys()


# --------------------------------------------------------------------------------------------- accepted


def test_first_root_is_accepted(keys: RootKeys) -> None:
    metadata = make_root(keys)
    info = check_root(metadata, None, GUN, NOW)
    assert info.metadata is metadata
    assert set(info.roles) == {"root", "targets", "snapshot", "timestamp"}
    assert info.roles["root"] == RoleKeys((keys.root.key_id,), 1)
    assert info.roles["targets"] == RoleKeys((keys.targets.key_id,), 1)
    assert info.roles["snapshot"] == RoleKeys((keys.snapshot.key_id,), 1)
    assert info.roles["timestamp"] == RoleKeys((keys.timestamp.key_id,), 1)
    assert info.keys == {k.key_id: k.public for k in (keys.root, keys.targets, keys.snapshot, keys.timestamp)}


def test_rsa_root_certificate_is_accepted() -> None:
    keys = RootKeys(root_key(algorithm="rsa"))
    assert check_root(make_root(keys), None, GUN, NOW).roles["root"].keyids == (keys.root.key_id,)


def test_extra_roles_are_ignored(keys: RootKeys) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["roles"]["mirror"] = {"keyids": [], "threshold": 1}

    assert set(check_root(make_root(keys, edit=edit), None, GUN, NOW).roles) == {
        "root",
        "targets",
        "snapshot",
        "timestamp",
    }


def test_duplicate_keyids_are_listed_once(keys: RootKeys) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["roles"]["targets"]["keyids"] *= 2

    info = check_root(make_root(keys, edit=edit), None, GUN, NOW)
    assert info.roles["targets"].keyids == (keys.targets.key_id,)


# ------------------------------------------------------------------------------------ (a) version rule


def test_same_version_as_the_previous_root_is_accepted(keys: RootKeys) -> None:
    previous = check_root(make_root(keys, version=3), None, GUN, NOW)
    assert check_root(make_root(keys, version=3), previous, GUN, NOW).metadata.version == 3


def test_next_version_is_accepted(keys: RootKeys) -> None:
    previous = check_root(make_root(keys, version=3), None, GUN, NOW)
    assert check_root(make_root(keys, version=4), previous, GUN, NOW).metadata.version == 4


@pytest.mark.parametrize("version", [1, 2, 5, 9])
def test_other_versions_are_refused(keys: RootKeys, version: int) -> None:
    previous = check_root(make_root(keys, version=3), None, GUN, NOW)
    message = _refused(make_root(keys, version=version), previous)
    assert message == f"Root modifications must increment the version. Current 3, new {version}"


def test_first_root_may_start_at_any_version(keys: RootKeys) -> None:
    assert check_root(make_root(keys, version=7), None, GUN, NOW).metadata.version == 7


# -------------------------------------------------------------------------------------- (b) structure


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(signed: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = signed
        for part in parents:
            target = target[part]
        target[last] = value

    return edit


def test_wrong_type_is_refused(keys: RootKeys) -> None:
    message = _refused(make_root(keys, edit=_set("_type", "Targets")))
    assert message == "root type metadata invalid: expected type Root, not Targets"


def test_version_zero_is_refused(keys: RootKeys) -> None:
    message = _refused(make_root(keys, version=0))
    assert message == "root type metadata invalid: version cannot be less than 1"


@pytest.mark.parametrize("value", [None, [], "keys"])
def test_keys_must_be_an_object(keys: RootKeys, value: Any) -> None:
    edit = (lambda s: s.pop("keys")) if value is None else _set("keys", value)
    message = _refused(make_root(keys, edit=edit))
    assert message.startswith("root type metadata invalid: ")


def test_invalid_key_is_refused(keys: RootKeys) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["keys"][keys.targets.key_id]["keytype"] = "dsa"

    message = _refused(make_root(keys, edit=edit))
    assert message.startswith(f"root type metadata invalid: invalid key {keys.targets.key_id}:")


def test_key_under_a_wrong_id_is_refused(keys: RootKeys) -> None:
    def edit(signed: dict[str, Any]) -> None:
        signed["keys"][keys.targets.key_id] = keys.snapshot.public.to_dict()

    message = _refused(make_root(keys, edit=edit))
    assert message.startswith(f"root type metadata invalid: key ID {keys.targets.key_id} does not match")


@pytest.mark.parametrize("value", [[], "roles", 1])
def test_roles_must_be_an_object(keys: RootKeys, value: Any) -> None:
    assert _refused(make_root(keys, edit=_set("roles", value))) == (
        "root type metadata invalid: roles must be an object"
    )


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_each_base_role_is_required(keys: RootKeys, role: str) -> None:
    def edit(signed: dict[str, Any]) -> None:
        del signed["roles"][role]

    assert (
        _refused(make_root(keys, edit=edit))
        == f"root type metadata invalid: missing {role} role specification"
    )


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
@pytest.mark.parametrize("threshold", [0, -1])
def test_threshold_must_be_at_least_one(keys: RootKeys, role: str, threshold: int) -> None:
    message = _refused(make_root(keys, edit=_set(f"roles.{role}.threshold", threshold)))
    assert message == f"root type metadata invalid: invalid threshold specified for {role}: {threshold}"


@pytest.mark.parametrize("threshold", ["1", True, None])
def test_threshold_must_be_an_integer(keys: RootKeys, threshold: Any) -> None:
    message = _refused(make_root(keys, edit=_set("roles.targets.threshold", threshold)))
    assert message.startswith("root type metadata invalid: invalid threshold specified for targets")


def test_role_entry_must_be_an_object(keys: RootKeys) -> None:
    message = _refused(make_root(keys, edit=_set("roles.snapshot", ["x"])))
    assert message == "root type metadata invalid: snapshot role specification must be an object"


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
def test_role_keyids_must_be_in_keys(keys: RootKeys, role: str) -> None:
    missing = "ab" * 32

    def edit(signed: dict[str, Any]) -> None:
        signed["roles"][role]["keyids"].append(missing)

    message = _refused(make_root(keys, edit=edit))
    assert (
        message
        == f"root type metadata invalid: key ID {missing} specified in {role} without corresponding key"
    )


@pytest.mark.parametrize("value", ["abc", [1], {"a": 1}])
def test_role_keyids_must_be_a_list_of_strings(keys: RootKeys, value: Any) -> None:
    message = _refused(make_root(keys, edit=_set("roles.targets.keyids", value)))
    assert message == "root type metadata invalid: keyids of targets must be a list of strings"


# ----------------------------------------------------------------------------------------- (c) expiry


def test_expired_root_is_refused(keys: RootKeys) -> None:
    expires = NOW - timedelta(seconds=1)
    message = _refused(make_root(keys, expires=expires))
    assert message == "root expired at Thu Dec 31 23:59:59 UTC 2026"
    assert message == f"root expired at {go_expiry_text(expires)}"


def test_root_expiring_exactly_now_is_accepted(keys: RootKeys) -> None:
    check_root(make_root(keys, expires=NOW), None, GUN, NOW)


def test_naive_now_is_a_programming_error(keys: RootKeys) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_root(make_root(keys), None, GUN, NOW.replace(tzinfo=None))


# ----------------------------------------------------------------------------- (d) root certificates


def test_plain_ecdsa_root_key_is_refused() -> None:
    keys = RootKeys(Key.generate("ecdsa"))
    assert _refused(make_root(keys)) == NO_LEAF


def test_root_certificate_for_another_gun_is_refused() -> None:
    keys = RootKeys(root_key("example.com/other"))
    assert _refused(make_root(keys)) == NO_LEAF
    # ... and is accepted for its own GUN
    check_root(make_root(keys), None, "example.com/other", NOW)


def test_expired_root_certificate_is_refused() -> None:
    keys = RootKeys(root_key(not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)))
    assert _refused(make_root(keys)) == NO_LEAF


def test_ca_root_certificate_is_refused() -> None:
    assert _refused(make_root(RootKeys(root_key(is_ca=True)))) == NO_LEAF


def test_root_certificate_keys_outside_the_root_role_do_not_help(keys: RootKeys) -> None:
    plain = Key.generate("ecdsa")
    certificate_elsewhere = RootKeys(plain)
    # a valid certificate listed only as an extra key (no role) is not a root key
    metadata = make_root(certificate_elsewhere, extra_keys=[keys.root], signers=[plain, keys.root])
    assert _refused(metadata) == NO_LEAF


def test_only_valid_certificates_count_towards_the_threshold(keys: RootKeys) -> None:
    wrong_cn = root_key("example.com/other")
    metadata = make_root(
        keys, root_keys=[keys.root, wrong_cn], thresholds={"root": 2}, signers=[keys.root, wrong_cn]
    )
    assert _refused(metadata) == INTEGRITY
    # with threshold 1 the valid certificate's signature suffices
    check_root(make_root(keys, root_keys=[keys.root, wrong_cn], signers=[keys.root]), None, GUN, NOW)
    # but a signature by the invalid one alone does not
    assert _refused(make_root(keys, root_keys=[keys.root, wrong_cn], signers=[wrong_cn])) == INTEGRITY


# ------------------------------------------------------------------------------ (e) self-signatures


def test_unsigned_root_is_refused(keys: RootKeys) -> None:
    assert _refused(make_root(keys, signers=[])) == INTEGRITY


def test_root_signed_by_another_role_key_is_refused(keys: RootKeys) -> None:
    assert _refused(make_root(keys, signers=[keys.targets])) == INTEGRITY


def test_root_threshold_counts_distinct_root_keys(keys: RootKeys) -> None:
    second = root_key()
    both = [keys.root, second]
    check_root(make_root(keys, root_keys=both, thresholds={"root": 2}, signers=both), None, GUN, NOW)
    message = _refused(
        make_root(keys, root_keys=both, thresholds={"root": 2}, signers=[keys.root, keys.root])
    )
    assert message == INTEGRITY


# -------------------------------------------------------------------------------------- (f) rotation


def test_rotation_signed_by_old_and_new_root_keys_is_accepted(keys: RootKeys) -> None:
    previous = check_root(make_root(keys), None, GUN, NOW)
    old = keys.root
    keys.root = root_key()
    new = make_root(keys, version=2, extra_keys=[old], signers=[keys.root, old])
    info = check_root(new, previous, GUN, NOW)
    assert info.roles["root"].keyids == (keys.root.key_id,)


def test_rotation_without_the_old_signature_is_refused(keys: RootKeys) -> None:
    previous = check_root(make_root(keys), None, GUN, NOW)
    keys.root = root_key()
    assert _refused(make_root(keys, version=2, signers=[keys.root]), previous) == ROTATION


def test_rotation_without_the_new_signature_is_refused(keys: RootKeys) -> None:
    previous = check_root(make_root(keys), None, GUN, NOW)
    old = keys.root
    keys.root = root_key()
    assert _refused(make_root(keys, version=2, extra_keys=[old], signers=[old]), previous) == INTEGRITY


def test_every_new_root_needs_the_previous_root_keys(keys: RootKeys) -> None:
    """Also a root that keeps its root key: a stranger's certificate for the GUN cannot take over."""
    previous = check_root(make_root(keys), None, GUN, NOW)
    stranger = RootKeys()
    assert _refused(make_root(stranger, version=2, signers=[stranger.root]), previous) == ROTATION
    check_root(make_root(keys, version=2), previous, GUN, NOW)


def test_rotation_needs_the_previous_threshold(keys: RootKeys) -> None:
    second = root_key()
    both = [keys.root, second]
    previous = check_root(
        make_root(keys, root_keys=both, thresholds={"root": 2}, signers=both), None, GUN, NOW
    )
    new_key = root_key()
    keys.root = new_key
    half = make_root(keys, version=2, extra_keys=both, signers=[new_key, both[0]])
    assert _refused(half, previous) == ROTATION
    full = make_root(keys, version=2, extra_keys=both, signers=[new_key, *both])
    check_root(full, previous, GUN, NOW)


def test_expired_previous_certificate_still_signs_the_rotation() -> None:
    then = NOW - timedelta(days=800)
    old_cert = root_key(not_before=then - timedelta(days=1), not_after=NOW - timedelta(days=10))
    keys = RootKeys(old_cert)
    previous = check_root(make_root(keys, expires=NOW + timedelta(days=1)), None, GUN, then)
    keys.root = root_key()
    new = make_root(keys, version=2, extra_keys=[old_cert], signers=[keys.root, old_cert])
    check_root(new, previous, GUN, NOW)


def test_previous_root_with_unusable_root_keys_cannot_be_rotated_from() -> None:
    plain = RootKeys(Key.generate("ecdsa"))
    previous = RootInfo.from_metadata(make_root(plain))  # stored without policy checks
    keys = RootKeys()
    new = make_root(keys, version=2, extra_keys=[plain.root], signers=[keys.root, plain.root])
    assert _refused(new, previous) == ROTATION


def test_version_rule_comes_first(keys: RootKeys) -> None:
    previous = check_root(make_root(keys), None, GUN, NOW)
    message = _refused(make_root(keys, version=5, edit=_set("_type", "Nope")), previous)
    assert message.startswith("Root modifications must increment the version")


# ---------------------------------------------------------------------------------- from_metadata


def test_from_metadata_reads_a_root_without_policy(keys: RootKeys) -> None:
    plain = RootKeys(Key.generate("ecdsa"))
    stored = make_root(plain, expires=NOW - timedelta(days=365), signers=[])
    info = RootInfo.from_metadata(stored)
    assert info.metadata is stored
    assert info.roles["root"] == RoleKeys((plain.root.key_id,), 1)
    assert set(info.keys) == {
        plain.root.key_id,
        plain.targets.key_id,
        plain.snapshot.key_id,
        plain.timestamp.key_id,
    }


@pytest.mark.parametrize(
    "edit",
    [
        _set("_type", "Snapshot"),
        _set("roles", {}),
        _set("roles.root.threshold", 0),
        _set("keys", []),
    ],
)
def test_from_metadata_refuses_a_broken_structure(
    keys: RootKeys, edit: Callable[[dict[str, Any]], None]
) -> None:
    with pytest.raises(BadRootError):
        RootInfo.from_metadata(make_root(keys, edit=edit))
