"""Resource scopes as the Docker token protocol spells them."""

from __future__ import annotations

import pytest

from notary.tokens.scopes import Access, ScopeError, parse_resource_scope, parse_scopes


def test_a_repository_scope() -> None:
    assert parse_resource_scope("repository:example.com/app:push,pull") == Access(
        "repository", "example.com/app", ("push", "pull")
    )


def test_a_name_may_hold_colons_as_a_registry_host_port_does() -> None:
    assert parse_resource_scope("repository:localhost:5000/app:pull") == Access(
        "repository", "localhost:5000/app", ("pull",)
    )


def test_the_any_action_and_the_catalog() -> None:
    assert parse_resource_scope("registry:catalog:*") == Access("registry", "catalog", ("*",))


def test_repeated_actions_are_kept_once() -> None:
    assert parse_resource_scope("repository:a:pull,push,pull").actions == ("pull", "push")


@pytest.mark.parametrize(
    "text",
    [
        "repository",
        "repository:a",
        "repository::pull",
        "repository:a:",
        "repository:a:pull,",
        "repository:a:PULL",
        "Repository:a:pull",
        "repository(plugin):a:pull",
        ":a:pull",
        "repository:" + "a" * 256 + ":pull",
    ],
)
def test_malformed_scopes_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_resource_scope(text)


def test_space_separated_and_repeated_scopes_merge_per_resource() -> None:
    assert parse_scopes(
        ["repository:a:pull registry:catalog:*", "repository:a:push", "repository:b:pull"]
    ) == [
        Access("repository", "a", ("pull", "push")),
        Access("registry", "catalog", ("*",)),
        Access("repository", "b", ("pull",)),
    ]


def test_the_claim_and_text_forms() -> None:
    access = Access("repository", "a/b", ("push", "pull"))
    assert access.to_claim() == {"type": "repository", "name": "a/b", "actions": ["push", "pull"]}
    assert str(access) == "repository:a/b:push,pull"
