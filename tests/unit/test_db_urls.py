"""models.db.sqlalchemy_url: notary-server's storage.db_url spellings become SQLAlchemy URLs."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from models.db import sqlalchemy_url


def test_go_mysql_dsn() -> None:
    url = sqlalchemy_url("user:pass@tcp(host:3306)/notary?parseTime=True", "mysql")
    assert url == "mysql+pymysql://user:pass@host:3306/notary?charset=utf8mb4"


def test_go_mysql_dsn_as_in_notarys_own_configs() -> None:
    url = sqlalchemy_url("server@tcp(mysql:3306)/notaryserver?parseTime=True", "mysql")
    assert url == "mysql+pymysql://server@mysql:3306/notaryserver?charset=utf8mb4"


def test_go_mysql_dsn_without_parameters() -> None:
    url = sqlalchemy_url("u:p@tcp(db.internal:3307)/n", "mysql")
    assert url == "mysql+pymysql://u:p@db.internal:3307/n?charset=utf8mb4"


@pytest.mark.parametrize("password", ["p:ss/w?rd#1%", "p@ss", "a@b:c@d", "", "sp ace&="])
def test_go_mysql_dsn_password_with_special_characters_is_quoted(password: str) -> None:
    url = sqlalchemy_url(f"notary:{password}@tcp(db:3306)/notary?parseTime=true", "mysql")
    assert url.startswith("mysql+pymysql://notary:")
    assert url.endswith("@db:3306/notary?charset=utf8mb4")
    parsed = make_url(url)
    assert parsed.username == "notary"
    assert parsed.password == password
    assert (parsed.host, parsed.port, parsed.database) == ("db", 3306, "notary")
    assert parsed.query == {"charset": "utf8mb4"}


def test_go_mysql_dsn_user_with_special_characters_is_quoted() -> None:
    parsed = make_url(sqlalchemy_url("me/you:pw@tcp(db:3306)/notary", "mysql"))
    assert (parsed.username, parsed.password) == ("me/you", "pw")


def test_mysql_url_gets_the_pymysql_driver() -> None:
    url = sqlalchemy_url("mysql://u:p@h:3306/notary?charset=utf8mb4", "mysql")
    assert url == "mysql+pymysql://u:p@h:3306/notary?charset=utf8mb4"


def test_mysql_url_with_a_driver_is_left_alone() -> None:
    url = "mysql+pymysql://u:p@h:3306/notary?charset=utf8mb4"
    assert sqlalchemy_url(url, "mysql") == url


@pytest.mark.parametrize(
    ("db_url", "expected"),
    [
        ("postgres://u@h:5432/db?sslmode=disable", "postgresql+psycopg://u@h:5432/db?sslmode=disable"),
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgres_urls_get_the_psycopg_driver(db_url: str, expected: str) -> None:
    assert sqlalchemy_url(db_url, "postgres") == expected


@pytest.mark.parametrize(
    "db_url",
    ["sqlite:///relative.db", "sqlite:////var/lib/notary/notary.db", "sqlite://", "sqlite:///:memory:"],
)
def test_sqlite_urls_are_unchanged(db_url: str) -> None:
    assert sqlalchemy_url(db_url, "sqlite") == db_url


def test_the_backend_decides_which_conversion_applies() -> None:
    # A Go DSN only means MySQL when the backend says so.
    dsn = "user:pass@tcp(host:3306)/notary"
    assert sqlalchemy_url(dsn, "postgres") == dsn
    assert sqlalchemy_url("postgres://u@h/db", "mysql") == "postgres://u@h/db"
