"""The htpasswd users file: bcrypt only, constant-time checks, a dummy check for unknown users."""

from __future__ import annotations

import bcrypt
import pytest

from notary.auth.service.users import (
    MAX_PASSWORD_BYTES,
    PasswordError,
    Users,
    UsersFileError,
    hash_password,
    with_entry,
)

ALICE_HASH = hash_password(b"alice-password", cost=4)


def test_hashes_use_htpasswd_spelling_and_verify_with_bcrypt() -> None:
    assert ALICE_HASH.startswith("$2y$04$")
    assert bcrypt.checkpw(b"alice-password", ALICE_HASH.encode())


def test_the_right_password_and_only_it() -> None:
    users = Users.parse(f"alice:{ALICE_HASH}\n")
    assert users.authenticate("alice", b"alice-password")
    assert not users.authenticate("alice", b"alice-passwor")
    assert not users.authenticate("alice", b"")
    assert not users.authenticate("bob", b"alice-password")


def test_hashes_from_other_bcrypt_tools_are_accepted() -> None:
    two_b = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    two_a = "$2a$" + two_b[4:]
    users = Users.parse(f"b:{two_b}\na:{two_a}\n# a comment\n\n")
    assert users.authenticate("b", b"pw")
    assert users.authenticate("a", b"pw")


def test_unknown_users_are_checked_against_a_dummy_hash_of_the_files_cost() -> None:
    users = Users.parse(f"alice:{ALICE_HASH}\n")
    assert users.dummy_hash.startswith(b"$2b$04$")
    assert Users.parse("").dummy_hash.startswith(b"$2b$12$")


def test_a_password_past_72_bytes_is_refused_not_truncated() -> None:
    password = b"p" * MAX_PASSWORD_BYTES
    users = Users.parse(f"long:{hash_password(password, cost=4)}\n")
    assert users.authenticate("long", password)
    assert not users.authenticate("long", password + b"-and-more")
    with pytest.raises(PasswordError, match="longer than 72"):
        hash_password(password + b"x", cost=4)
    with pytest.raises(PasswordError, match="empty"):
        hash_password(b"", cost=4)
    with pytest.raises(PasswordError, match="cost"):
        hash_password(b"pw", cost=3)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("alice:$apr1$abcdefgh$0123456789abcdefghijkl", "line 1: 'alice' has no bcrypt hash"),
        ("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "no bcrypt hash"),
        ("alice:plaintext", "no bcrypt hash"),
        ("alice", "no bcrypt hash"),
        (f"alice:{ALICE_HASH}\nalice:{ALICE_HASH}", "line 2: 'alice' appears twice"),
        (f"@anonymous:{ALICE_HASH}", "must be non-empty"),
        (f":{ALICE_HASH}", "must be non-empty"),
        ("alice:$2y$99$" + ALICE_HASH[7:], "cost outside"),
    ],
)
def test_a_bad_users_file_names_the_line_and_not_the_hash(text: str, problem: str) -> None:
    with pytest.raises(UsersFileError, match=problem) as refused:
        Users.parse(text)
    assert ALICE_HASH[7:] not in str(refused.value)


def test_entries_are_added_or_replaced_in_place() -> None:
    text = with_entry("", "alice", "H1")
    assert text == "alice:H1\n"
    text = with_entry("# users\nalice:H1\nbob:H2\n", "alice", "H3")
    assert text == "# users\nalice:H3\nbob:H2\n"
    assert with_entry(text, "carol", "H4").endswith("bob:H2\ncarol:H4\n")
    with pytest.raises(UsersFileError):
        with_entry(text, "eve:il", "H5")
