"""api.routing: notary-server's /v2 route table (spec §2.1) and gorilla/mux-style path cleaning."""

from __future__ import annotations

import pytest

from api.routing import NOT_FOUND, ROUTES, clean_path, match

GUNS = ["library/alpine", "docker.io/My Org/App Name", "UPPER/Case/Deep/Path", "single"]
HEX64 = "0123456789abcdef" * 4
HEX96 = "A1b2C3d4E5f6" * 8
HEX128 = "f" * 128

# (path, route name, captured parameters); {gun} is filled in for each GUN.
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("/v2/{gun}/_trust/tuf/", "UpdateTUF", {}),
    ("/v2/{gun}/_trust/tuf/root.json", "GetRole", {"role": "root"}),
    ("/v2/{gun}/_trust/tuf/targets.json", "GetRole", {"role": "targets"}),
    ("/v2/{gun}/_trust/tuf/snapshot.json", "GetRole", {"role": "snapshot"}),
    ("/v2/{gun}/_trust/tuf/timestamp.json", "GetRole", {"role": "timestamp"}),
    ("/v2/{gun}/_trust/tuf/targets/releases.json", "GetRole", {"role": "targets/releases"}),
    ("/v2/{gun}/_trust/tuf/targets/a/b.json", "GetRole", {"role": "targets/a/b"}),
    (f"/v2/{{gun}}/_trust/tuf/root.{HEX64}.json", "GetRoleByHash", {"role": "root", "checksum": HEX64}),
    (
        f"/v2/{{gun}}/_trust/tuf/snapshot.{HEX96}.json",
        "GetRoleByHash",
        {"role": "snapshot", "checksum": HEX96},
    ),
    (
        f"/v2/{{gun}}/_trust/tuf/timestamp.{HEX128}.json",
        "GetRoleByHash",
        {"role": "timestamp", "checksum": HEX128},
    ),
    (
        f"/v2/{{gun}}/_trust/tuf/targets/releases.{HEX64}.json",
        "GetRoleByHash",
        {"role": "targets/releases", "checksum": HEX64},
    ),
    ("/v2/{gun}/_trust/tuf/2.root.json", "GetRoleByVersion", {"version": "2", "role": "root"}),
    ("/v2/{gun}/_trust/tuf/0.root.json", "GetRoleByVersion", {"version": "0", "role": "root"}),
    ("/v2/{gun}/_trust/tuf/10.targets.json", "GetRoleByVersion", {"version": "10", "role": "targets"}),
    (
        "/v2/{gun}/_trust/tuf/3.targets/a/b.json",
        "GetRoleByVersion",
        {"version": "3", "role": "targets/a/b"},
    ),
    ("/v2/{gun}/_trust/tuf/timestamp.key", "GetKey", {"role": "timestamp"}),
    ("/v2/{gun}/_trust/tuf/snapshot.key", "GetKey", {"role": "snapshot"}),
    ("/v2/{gun}/_trust/changefeed", "Changefeed", {}),
]


@pytest.mark.parametrize("gun", GUNS)
@pytest.mark.parametrize(("template", "name", "params"), CASES)
def test_gun_routes(template: str, name: str, params: dict[str, str], gun: str) -> None:
    route, found = match(template.replace("{gun}", gun))
    assert route.name == name
    assert found == {"gun": gun, **params}


def test_every_route_is_covered() -> None:
    covered = {name for _, name, _ in CASES} | {"Ping", "GlobalChangefeed"}
    assert covered == {route.name for route in ROUTES}


def test_ping() -> None:
    route, found = match("/v2/")
    assert (route.name, found) == ("Ping", {})


def test_global_changefeed() -> None:
    route, found = match("/v2/_trust/changefeed")
    assert (route.name, found) == ("GlobalChangefeed", {})


@pytest.mark.parametrize(
    ("path", "gun"),
    [
        ("/v2/a/_trust/tuf/root.key", "a"),
        ("/v2/a/_trust/tuf/targets.key", "a"),
        ("/v2/a/b/_trust/whatever", "a/b"),
        ("/v2/a/b/_trust/tuf/whatever.json", "a/b"),
        ("/v2/a/_trust/tuf/nope.json", "a"),
        ("/v2/a/_trust/tuf/targets/with space.json", "a"),
        (f"/v2/a/_trust/tuf/root.{HEX64[:63]}.json", "a"),
        (f"/v2/a/_trust/tuf/root.{HEX64}0.json", "a"),
        (f"/v2/a/_trust/tuf/root.{'g' * 64}.json", "a"),
        ("/v2/a/_trust/tuf/-1.root.json", "a"),
        ("/v2/a/_trust/tuf/root.json/", "a"),
        ("/v2/a/_trust/tuf", "a"),
    ],
)
def test_catch_all_still_names_the_gun(path: str, gun: str) -> None:
    route, found = match(path)
    assert route is NOT_FOUND
    assert found == {"gun": gun}


@pytest.mark.parametrize(
    "path",
    [
        "/v2/a*b/_trust/tuf/root.json",
        "/v2/*/_trust/tuf/",
        "/v2/lib/*/_trust/changefeed",
        "/v2/_trust/tuf/root.json",
        "/v2",
        "/v1/jobs",
        "/",
        "/v2/a/b",
        "/metrics",
    ],
)
def test_paths_without_a_gun_are_not_found_without_one(path: str) -> None:
    route, found = match(path)
    assert route is NOT_FOUND
    assert found == {}


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        ("/v2/", "/v2/"),
        ("/v2", "/v2"),
        ("/v2//library//alpine/_trust/tuf/root.json", "/v2/library/alpine/_trust/tuf/root.json"),
        ("//v2/x", "/v2/x"),
        ("/v2/a/../b/_trust/tuf/root.json", "/v2/b/_trust/tuf/root.json"),
        ("/v2/a/b/../../c/_trust/tuf/", "/v2/c/_trust/tuf/"),
        ("/v2/a/./b/_trust/tuf/", "/v2/a/b/_trust/tuf/"),
        ("/v2/a/b/_trust/tuf/", "/v2/a/b/_trust/tuf/"),
        ("/v2/a//_trust/tuf//", "/v2/a/_trust/tuf/"),
        ("/../v2/", "/v2/"),
        ("/v2/..", "/"),
        ("/v2/../", "/"),
        ("/", "/"),
        ("", "/"),
    ],
)
def test_clean_path(path: str, cleaned: str) -> None:
    assert clean_path(path) == cleaned
    assert clean_path(cleaned) == cleaned


def test_a_cleaned_path_matches_the_route_of_its_clean_form() -> None:
    route, found = match(clean_path("/v2/library//alpine/./_trust/tuf/x/../root.json"))
    assert (route.name, found) == ("GetRole", {"gun": "library/alpine", "role": "root"})


def test_overlong_paths_are_not_matched_at_all() -> None:
    """A path of tens of kilobytes made the GUN and role patterns backtrack for seconds; nothing that long
    can be a valid route, so it is answered as not found before any pattern runs."""
    path = "/v2/a" + "/_trust/tuf/targets/x" * 4000 + ".json"
    assert match(path) == (NOT_FOUND, {})
    assert match("/v2/" + "g/" * 100 + "_trust/tuf/root.json")[0].name == "GetRole"
