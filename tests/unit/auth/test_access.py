"""notary.auth.access: scope strings, and the accesses each /v2 route needs (spec §2.1's scope column),
found through api.routing's real route table."""

from __future__ import annotations

import pytest

from api.routing import ROUTES, match
from notary.auth.access import (
    ADMIN,
    CATALOG,
    VERIFY,
    Access,
    Resource,
    ScopeError,
    format_scope,
    parse_scope,
    repository,
    required_accesses,
    resources,
)

HEX = "ab" * 32


def test_parse_scope_of_several_resources() -> None:
    assert parse_scope("repository:example.com/app:push,pull registry:catalog:*") == (
        Access("repository", "example.com/app", "push"),
        Access("repository", "example.com/app", "pull"),
        CATALOG,
    )


def test_a_gun_with_a_port_keeps_its_colon() -> None:
    assert parse_scope("repository:registry:5000/app:pull") == (
        Access("repository", "registry:5000/app", "pull"),
    )


def test_parse_drops_repeats() -> None:
    assert parse_scope("repository:a:pull repository:a:pull,push") == repository("a", "pull", "push")
    assert parse_scope("repository:a:pull,push,pull") == repository("a", "pull", "push")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("repository", "is not type:name:actions"),
        ("repository:app", "is not type:name:actions"),
        (":app:pull", "is not type:name:actions"),
        ("Repository:a:pull", "is not type:name:actions"),
        ("repository(plugin):a:pull", "is not type:name:actions"),
        ("repository::pull", "needs a name of 1-255"),
        ("repository:" + "a" * 256 + ":pull", "needs a name of 1-255"),
        ("repository:app:", "empty or malformed action"),
        ("repository:app:pull,", "empty or malformed action"),
        ("repository:a:PULL", "empty or malformed action"),
    ],
)
def test_malformed_scopes_are_refused(bad: str, problem: str) -> None:
    with pytest.raises(ScopeError, match=problem):
        parse_scope(f"registry:catalog:* {bad}")


def test_resources_group_actions_per_resource_in_first_seen_order() -> None:
    accesses = parse_scope("repository:a:pull registry:catalog:* repository:a:push repository:b:pull")
    assert resources(accesses) == (
        Resource("repository", "a", ("pull", "push")),
        Resource("registry", "catalog", ("*",)),
        Resource("repository", "b", ("pull",)),
    )


def test_a_resources_claim_and_scope_forms() -> None:
    (resource,) = resources(repository("host:5000/a", "push", "pull"))
    assert resource.to_claim() == {"type": "repository", "name": "host:5000/a", "actions": ["push", "pull"]}
    assert str(resource) == "repository:host:5000/a:push,pull"


def test_format_groups_actions_per_resource_in_order() -> None:
    accesses = (*repository("a/b", "push", "pull"), CATALOG, Access("repository", "a/b", "pull"))
    assert format_scope(accesses) == "repository:a/b:push,pull registry:catalog:*"
    assert parse_scope(format_scope(accesses)) == accesses[:3]


def test_admin_and_verify_scopes() -> None:
    assert format_scope([ADMIN]) == "notary:admin:*"
    assert format_scope([VERIFY]) == "notary:verify:*"


def test_detail_is_docker_distributions_access() -> None:
    assert CATALOG.to_detail() == {"Type": "registry", "Class": "", "Name": "catalog", "Action": "*"}


T = "/v2/example.com/app/_trust/tuf"
SCOPES = [
    ("GET", "/v2/", "registry:catalog:*"),
    ("GET", "/v2/_trust/changefeed", "registry:catalog:*"),
    ("GET", "/v2/example.com/app/_trust/changefeed", "repository:example.com/app:pull"),
    ("POST", f"{T}/", "repository:example.com/app:push,pull"),
    ("DELETE", f"{T}/", "repository:example.com/app:*"),
    ("GET", f"{T}/root.json", "repository:example.com/app:pull"),
    ("HEAD", f"{T}/timestamp.json", "repository:example.com/app:pull"),
    ("GET", f"{T}/targets/releases.json", "repository:example.com/app:pull"),
    ("GET", f"{T}/snapshot.{HEX}.json", "repository:example.com/app:pull"),
    ("GET", f"{T}/3.root.json", "repository:example.com/app:pull"),
    ("GET", f"{T}/timestamp.key", "repository:example.com/app:push,pull"),
    ("GET", f"{T}/snapshot.key", "repository:example.com/app:push,pull"),
    ("POST", f"{T}/timestamp.key", "repository:example.com/app:*"),
    ("POST", f"{T}/snapshot.key", "repository:example.com/app:*"),
    # Unrouted: pull on the GUN the path names, else the catalog scope.
    ("GET", f"{T}/root.key", "repository:example.com/app:pull"),
    ("PUT", f"{T}/", "repository:example.com/app:pull"),
    ("GET", "/v2/nothing-here", "registry:catalog:*"),
    ("POST", "/v2/", "registry:catalog:*"),
]


@pytest.mark.parametrize(("method", "path", "scope"), SCOPES)
def test_required_accesses_per_route(method: str, path: str, scope: str) -> None:
    route, params = match(path)
    assert format_scope(required_accesses(route.name, method, params.get("gun"))) == scope


def test_every_route_is_covered() -> None:
    covered = {match(path)[0].name for _, path, _ in SCOPES}
    assert covered >= {route.name for route in ROUTES}
