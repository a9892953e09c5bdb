"""The grants file: glob patterns, the intersection with a request, anonymous and authenticated grants."""

from __future__ import annotations

import pytest

from notary.auth.access import CATALOG, Access, parse_scope, repository
from notary.auth.service.grants import Grants, GrantsFileError, granted

GRANTS = Grants.parse(
    """
    # who may do what
    alice: repository:docker.io/alice/*:push,pull  repository:docker.io/shared/*:pull
    alice: repository:docker.io/team/app:push
    admin: repository:*:*  registry:catalog:*
    @authenticated: repository:docker.io/library/*:pull
    @anonymous: repository:docker.io/public/*:pull   # anyone
    """
)


def grant(user: str | None, scope: str) -> tuple[Access, ...]:
    return granted(parse_scope(scope), GRANTS.of(user))


def test_a_glob_covers_nested_names_and_grants_what_was_asked() -> None:
    assert grant("alice", "repository:docker.io/alice/a/b:push,pull") == repository(
        "docker.io/alice/a/b", "push", "pull"
    )


def test_never_more_than_asked() -> None:
    assert grant("alice", "repository:docker.io/alice/app:pull") == repository("docker.io/alice/app", "pull")


def test_never_more_than_granted() -> None:
    assert grant("alice", "repository:docker.io/shared/app:push,pull") == repository(
        "docker.io/shared/app", "pull"
    )
    assert grant("alice", "repository:docker.io/bob/app:push,pull") == ()


def test_grants_on_several_lines_add_up() -> None:
    assert grant("alice", "repository:docker.io/team/app:push,pull") == repository(
        "docker.io/team/app", "push"
    )


def test_a_glob_matches_the_whole_name_and_only_star_is_special() -> None:
    special = Grants.parse("u: repository:a.b/[x]?/*:pull")
    assert granted(parse_scope("repository:a.b/[x]?/c:pull"), special.of("u"))
    assert not granted(parse_scope("repository:axb/x/c:pull"), special.of("u"))
    assert not granted(parse_scope("repository:prefix/docker.io/alice/x:pull"), GRANTS.of("alice"))


def test_the_type_must_match() -> None:
    assert grant("alice", "registry:docker.io/alice/x:pull") == ()


def test_the_any_action_grant_covers_star_and_every_action() -> None:
    assert grant("admin", "repository:x/y:* repository:z:push,pull registry:catalog:*") == (
        *repository("x/y", "*"),
        *repository("z", "push", "pull"),
        CATALOG,
    )


def test_star_is_not_granted_by_push_and_pull() -> None:
    assert grant("alice", "repository:docker.io/alice/app:*") == ()


def test_anonymous_requests_get_only_the_anonymous_grants() -> None:
    assert grant(None, "repository:docker.io/public/x:push,pull") == repository("docker.io/public/x", "pull")
    assert grant(None, "repository:docker.io/library/x:pull") == ()
    assert grant(None, "repository:docker.io/alice/x:pull") == ()


def test_users_also_get_the_authenticated_and_anonymous_grants() -> None:
    asked = "repository:docker.io/library/x:pull repository:docker.io/public/x:pull"
    expected = (*repository("docker.io/library/x", "pull"), *repository("docker.io/public/x", "pull"))
    assert grant("alice", asked) == expected
    assert grant("someone-without-own-grants", asked) == expected


def test_without_any_anonymous_entry_anonymous_gets_nothing() -> None:
    assert granted(parse_scope("repository:a:pull"), Grants.parse("u: repository:*:pull").of(None)) == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("alice repository:a:pull", "line 1: expected"),
        ("\n: repository:a:pull", "line 2: expected"),
        ("alice:", "has no scope"),
        ("alice: repository:a", "line 1: scope"),
        ("@admins: repository:a:pull", "unknown subject"),
        ("al ice: repository:a:pull", "expected"),
    ],
)
def test_a_malformed_grants_file_names_the_line(text: str, problem: str) -> None:
    with pytest.raises(GrantsFileError, match=problem):
        Grants.parse(text)
