"""The static role provider's configuration (shared-keys.md section 4): glob matches, union of roles."""

from __future__ import annotations

import re

import pytest

from notary.keys.politician import (
    IDENTITY_FIELDS,
    Binding,
    IdentityTuple,
    parse_bindings,
    parse_roles,
    static_roles,
)

SPEC_EXAMPLE = [{"match": {"account": "716756199562", "image": "ami-*"}, "roles": ["web"]}]

WEB = IdentityTuple(
    account="716756199562", region="us-east-1", image="ami-0abc1234", instance="i-0123456789abcdef0"
)


def identity(**changes: str | None) -> IdentityTuple:
    fields = WEB.to_dict() | changes
    return IdentityTuple(**fields)  # type: ignore[arg-type]


# --- the spec example ----------------------------------------------------------------------------------


def test_spec_example_grants_web_to_matching_instance() -> None:
    bindings = parse_bindings(SPEC_EXAMPLE)
    assert static_roles(bindings, WEB) == ("web",)


@pytest.mark.parametrize(
    "changes",
    [
        {"account": "111111111111"},  # other account
        {"image": "aki-0abc1234"},  # not an ami-
        {"image": "AMI-0abc1234"},  # globs are case-sensitive
        {"account": "7167561995620"},  # no partial matches: the whole value must match
    ],
)
def test_spec_example_grants_nothing_to_others(changes: dict[str, str]) -> None:
    assert static_roles(parse_bindings(SPEC_EXAMPLE), identity(**changes)) == ()


# --- globs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("us-*", "us-east-1", True),
        ("us-*", "eu-west-3", False),
        ("*-west-?", "eu-west-3", True),
        ("*-west-?", "us-gov-west-1", True),
        ("*-west-?", "eu-west-10", False),
        ("ap-northeast-[123]", "ap-northeast-3", True),
        ("ap-northeast-[!3]", "ap-northeast-3", False),
        ("*", "us-east-1", True),
        ("us-east-1", "us-east-1", True),
        ("US-EAST-1", "us-east-1", False),
    ],
)
def test_glob_patterns(pattern: str, value: str, expected: bool) -> None:
    bindings = parse_bindings([{"match": {"region": pattern}, "roles": ["r"]}])
    assert static_roles(bindings, identity(region=value)) == (("r",) if expected else ())


# --- union, None, several keys -------------------------------------------------------------------------


def test_union_across_bindings_sorted_and_deduplicated() -> None:
    bindings = parse_bindings(
        [
            {"match": {"account": "716756199562"}, "roles": ["web", "base"]},
            {"match": {"region": "us-*"}, "roles": ["us", "base"]},
            {"match": {"image": "ami-*"}, "roles": ["web", "web"]},
            {"match": {"region": "eu-*"}, "roles": ["eu"]},  # does not match
        ]
    )
    assert static_roles(bindings, WEB) == ("base", "us", "web")


def test_no_binding_matches_gives_no_roles() -> None:
    assert static_roles(parse_bindings([]), WEB) == ()
    assert static_roles(parse_bindings([{"match": {"account": "1"}, "roles": ["x"]}]), WEB) == ()


@pytest.mark.parametrize("field", ["vpc", "autoscaling_group"])
def test_none_field_never_matches_not_even_star(field: str) -> None:
    bindings = parse_bindings([{"match": {field: "*"}, "roles": ["x"]}])
    assert static_roles(bindings, WEB) == ()
    assert static_roles(bindings, identity(**{field: "anything"})) == ("x",)


def test_vpc_and_autoscaling_group_match_when_known() -> None:
    bindings = parse_bindings(
        [
            {"match": {"vpc": "vpc-8de77a22c"}, "roles": ["in-vpc"]},
            {"match": {"autoscaling_group": "web-*"}, "roles": ["web-asg"]},
        ]
    )
    enriched = identity(vpc="vpc-8de77a22c", autoscaling_group="web-prod")
    assert static_roles(bindings, enriched) == ("in-vpc", "web-asg")
    assert static_roles(bindings, identity(vpc="vpc-other")) == ()


def test_binding_with_several_keys_needs_all() -> None:
    bindings = parse_bindings(
        [{"match": {"account": "716756199562", "region": "us-east-1", "vpc": "vpc-*"}, "roles": ["all"]}]
    )
    assert static_roles(bindings, identity(vpc="vpc-1")) == ("all",)
    assert static_roles(bindings, identity(vpc="vpc-1", region="us-west-2")) == ()
    assert static_roles(bindings, identity(vpc="vpc-1", account="111111111111")) == ()
    assert static_roles(bindings, WEB) == ()  # vpc unknown


def test_every_identity_field_can_be_matched() -> None:
    full = identity(vpc="vpc-1", autoscaling_group="asg-1")
    for field in IDENTITY_FIELDS:
        value = full.to_dict()[field]
        assert value is not None
        bindings = parse_bindings([{"match": {field: value}, "roles": [field]}])
        assert static_roles(bindings, full) == (field,)


def test_static_roles_accepts_any_iterable_of_bindings() -> None:
    bindings = parse_bindings(SPEC_EXAMPLE)
    assert static_roles(iter(bindings), WEB) == ("web",)
    assert static_roles([Binding(match={"account": "*"}, roles=("b", "a"))], WEB) == ("a", "b")


# --- parse errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"match": {"account": "1"}, "roles": ["web"]}, "must be a list"),  # not a list
        ("[]", "must be a list"),
        (None, "must be a list"),
        (["web"], "role binding 0 must be an object"),
        ([{"match": {"acount": "1"}, "roles": ["web"]}], "unknown match key 'acount'"),
        ([{"match": {"accountId": "1"}, "roles": ["web"]}], "unknown match key 'accountId'"),
        ([{"match": {"account": "1"}, "roles": []}], "must not be empty"),
        ([{"match": {"account": "1"}, "roles": "web"}], "must be a list of role names"),
        ([{"match": {"account": "1"}, "roles": ["web server"]}], "is not a role name"),
        ([{"match": {"account": "1"}, "roles": [""]}], "is not a role name"),
        ([{"match": {"account": "1"}, "roles": ["x" * 129]}], "is not a role name"),
        ([{"match": {"account": "1"}, "roles": ["web\n"]}], "is not a role name"),
        ([{"match": {"account": "1"}, "roles": [7]}], "is not a role name"),
        ([{"match": {"account": "1"}}], "missing 'roles'"),
        ([{"roles": ["web"]}], "missing 'match'"),
        ([{"match": {"account": "1"}, "roles": ["web"], "role": ["x"]}], "unknown member(s) 'role'"),
        ([{"match": {}, "roles": ["web"]}], "at least one field"),
        ([{"match": ["account"], "roles": ["web"]}], "match must be an object"),
        ([{"match": {"account": 716756199562}, "roles": ["web"]}], "non-empty glob pattern"),
        ([{"match": {"account": ""}, "roles": ["web"]}], "non-empty glob pattern"),
    ],
)
def test_parse_errors(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_bindings(value)


def test_parse_error_names_the_binding() -> None:
    good = {"match": {"account": "1"}, "roles": ["web"]}
    with pytest.raises(ValueError, match=r"^role binding 2: unknown match key 'ami'"):
        parse_bindings([good, good, {"match": {"ami": "ami-*"}, "roles": ["web"]}])


def test_valid_role_names() -> None:
    names = ["web", "notary:verify", "notary:key-federation", "a.b_c-d", "X" * 128, "0"]
    bindings = parse_bindings([{"match": {"account": "*"}, "roles": names}])
    assert static_roles(bindings, WEB) == tuple(sorted(names))


def test_bindings_are_immutable_copies_of_the_configuration() -> None:
    config = [{"match": {"account": "716756199562"}, "roles": ["web"]}]
    (binding,) = parse_bindings(config)
    config[0]["match"]["account"] = "111111111111"  # type: ignore[index]
    config[0]["roles"].append("admin")  # type: ignore[attr-defined]
    assert static_roles([binding], WEB) == ("web",)
    with pytest.raises(TypeError):
        binding.match["account"] = "*"  # type: ignore[index]
    assert binding.roles == ("web",)


def test_parse_bindings_accepts_a_tuple() -> None:
    assert parse_bindings(tuple(SPEC_EXAMPLE)) == parse_bindings(SPEC_EXAMPLE)


def test_parse_roles() -> None:
    assert parse_roles(["b", "a", "b"]) == ("a", "b")
    assert parse_roles([]) == ()
    with pytest.raises(ValueError, match="must not be empty"):
        parse_roles([], allow_empty=False)
    with pytest.raises(ValueError, match=r"answer\[1\] is not a role name"):
        parse_roles(["ok", "not ok"], where="answer")


# --- the identity tuple --------------------------------------------------------------------------------


def test_identity_tuple_to_dict_has_every_field() -> None:
    assert WEB.to_dict() == {
        "account": "716756199562",
        "region": "us-east-1",
        "image": "ami-0abc1234",
        "instance": "i-0123456789abcdef0",
        "vpc": None,
        "autoscaling_group": None,
    }
    assert tuple(WEB.to_dict()) == IDENTITY_FIELDS


def test_identity_tuple_is_hashable_and_compared_by_value() -> None:
    assert identity() == WEB
    assert hash(identity()) == hash(WEB)
    assert identity(vpc="vpc-1") != WEB


@pytest.mark.parametrize(
    "changes",
    [{"account": ""}, {"account": None}, {"region": 1}, {"vpc": ""}, {"autoscaling_group": 3}],
)
def test_identity_tuple_rejects_bad_fields(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="identity tuple field"):
        IdentityTuple(**(WEB.to_dict() | changes))  # type: ignore[arg-type]


def test_identity_tuple_from_instance_identity() -> None:
    from datetime import UTC, datetime

    from notary.keys.ec2_identity import InstanceIdentity

    instance = InstanceIdentity(
        account_id="716756199562",
        region="us-east-1",
        image_id="ami-0abc1234",
        instance_id="i-0123456789abcdef0",
        pending_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert IdentityTuple.from_instance(instance) == WEB
    assert IdentityTuple.from_instance(instance, vpc="vpc-1").vpc == "vpc-1"
