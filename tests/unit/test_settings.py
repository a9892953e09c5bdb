"""notary.settings.load_settings: defaults < JSON file < NOTARY_SERVER_* environment, and one-line errors."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from notary.errors import ConfigError
from notary.settings import OPTIONS, Settings, load_settings, require_keks

KEK_A = bytes(range(32))
KEK_B = bytes(range(32, 64))


def _kek(kek_id: str, material: bytes) -> str:
    return f"{kek_id}:{base64.b64encode(material).decode()}"


def _write(tmp_path: Path, document: Any, name: str = "server.json") -> Path:
    config_file = tmp_path / name
    config_file.write_text(json.dumps(document), encoding="utf-8")
    return config_file


def _config_error(config_file: Path | None, environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(config_file, environ)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith("configuration error: "), message
    return caught.value


def _assert_names(error: ConfigError, key: str, source: str) -> None:
    assert error.key == key
    assert error.source == source
    assert key in str(error)
    assert source in str(error)


# --- defaults -------------------------------------------------------------------------------------------


def test_defaults_without_file_or_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    data_dir = (tmp_path / "data").resolve()

    assert settings["server.http_addr"] == "127.0.0.1:4443"
    assert settings.http_host_port == ("127.0.0.1", 4443)
    assert settings["storage.backend"] == "sqlite"
    assert settings.data_dir == data_dir
    assert settings.db_url == f"sqlite:///{data_dir / 'notary.db'}"
    assert settings.broker_url == f"redis+socket://{data_dir / 'redis.sock'}"
    assert settings.broker_url.startswith("redis+socket:///")  # an absolute socket path
    assert settings["caching.max_age.current_metadata"] == 300
    assert settings["caching.max_age.consistent_metadata"] == 2_592_000
    assert settings["trust_service.key_algorithm"] == "ecdsa"
    assert settings["repositories.gun_prefixes"] == ()
    assert settings["signer.keks"] == ()
    assert settings["server.tls_cert_file"] is None
    assert settings.path("server.tls_cert_file") is None
    assert settings.source("storage.backend") == "default"


def test_environment_variables_without_the_prefix_are_ignored() -> None:
    settings = load_settings(
        None, {"PATH": "/bin", "NOTARY_SIGNER_X": "1", "notary_server_storage_backend": "x"}
    )
    assert settings["storage.backend"] == "sqlite"


def test_every_option_has_a_distinct_environment_name() -> None:
    names = [option.env_name for option in OPTIONS]
    assert len(set(names)) == len(names)
    assert len({option.key for option in OPTIONS}) == len(OPTIONS)
    by_key = {option.key: option.env_name for option in OPTIONS}
    assert by_key["caching.max_age.current_metadata"] == "NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA"
    assert by_key["storage.backend"] == "NOTARY_SERVER_STORAGE_BACKEND"


# --- a notary-server JSON file ---------------------------------------------------------------------------


def _notary_server_config(tmp_path: Path) -> Path:
    return _write(
        tmp_path,
        {
            "server": {
                "http_addr": ":4443",
                "tls_cert_file": "certs/server.crt",
                "tls_key_file": "/abs/server.key",
                "data_dir": "state",
            },
            "trust_service": {"type": "remote", "hostname": "notarysigner", "port": "7899"},
            "storage": {"backend": "mysql", "db_url": "server@tcp(mysql:3306)/notaryserver?parseTime=True"},
            "auth": {
                "type": "token",
                "options": {
                    "realm": "https://auth.example/token",
                    "service": "notary",
                    "issuer": "auth.example",
                    "rootcertbundle": "root.pem",
                    "autoredirect": True,
                },
            },
            "logging": {"level": "debug"},
            "reporting": {"bugsnag": {"api_key": "bugsnag-key-123", "release_stage": "production"}},
            "caching": {"max_age": {"current_metadata": 10, "consistent_metadata": 31_536_000}},
            "repositories": {"gun_prefixes": ["docker.io/", "example.com/team/"]},
        },
    )


def test_notary_server_file_loads(tmp_path: Path) -> None:
    config_file = _notary_server_config(tmp_path)
    settings = load_settings(config_file, {})

    assert settings["server.http_addr"] == ":4443"
    assert settings.http_host_port == ("0.0.0.0", 4443)
    assert settings["storage.backend"] == "mysql"
    assert settings.db_url == "server@tcp(mysql:3306)/notaryserver?parseTime=True"
    assert settings["trust_service.type"] == "remote"
    assert settings["auth.type"] == "token"
    assert settings["auth.options.realm"] == "https://auth.example/token"
    assert settings["auth.options.autoredirect"] is True
    assert settings["logging.level"] == "debug"
    assert settings["reporting.bugsnag.api_key"] == "bugsnag-key-123"
    assert settings["caching.max_age.current_metadata"] == 10
    assert settings["caching.max_age.consistent_metadata"] == 31_536_000
    assert settings["repositories.gun_prefixes"] == ("docker.io/", "example.com/team/")
    assert settings.source("storage.backend") == str(config_file)
    assert settings.source("jobs.wait_timeout") == "default"


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "notary"
    folder.mkdir(parents=True)
    settings = load_settings(_notary_server_config(folder), {})
    base = folder.resolve()

    assert settings.path("server.tls_cert_file") == base / "certs" / "server.crt"
    assert settings.path("server.tls_key_file") == Path("/abs/server.key")
    assert settings.path("auth.options.rootcertbundle") == base / "root.pem"
    assert settings.data_dir == base / "state"


def test_default_data_dir_is_next_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    settings = load_settings(_write(folder, {}), {})
    data_dir = folder.resolve() / "data"
    assert settings.data_dir == data_dir
    assert settings.db_url == f"sqlite:///{data_dir / 'notary.db'}"
    assert settings.broker_url == f"redis+socket://{data_dir / 'redis.sock'}"


def test_configured_db_url_and_broker_url_are_used_as_given() -> None:
    settings = load_settings(
        None,
        {
            "NOTARY_SERVER_STORAGE_DB_URL": "sqlite:////var/lib/notary/x.db",
            "NOTARY_SERVER_BROKER_URL": "redis://redis:6379/0",
        },
    )
    assert settings.db_url == "sqlite:////var/lib/notary/x.db"
    assert settings.broker_url == "redis://redis:6379/0"


@pytest.mark.parametrize("spelling", ["sqlite3", "SQLite3", "sqlite"])
def test_sqlite3_is_notarys_spelling_of_sqlite(tmp_path: Path, spelling: str) -> None:
    settings = load_settings(_write(tmp_path, {"storage": {"backend": spelling}}), {})
    assert settings["storage.backend"] == "sqlite"


# --- environment overrides --------------------------------------------------------------------------------


def test_environment_beats_the_file(tmp_path: Path) -> None:
    config_file = _notary_server_config(tmp_path)
    settings = load_settings(
        config_file,
        {
            "NOTARY_SERVER_STORAGE_BACKEND": "postgres",
            "NOTARY_SERVER_STORAGE_DB_URL": "postgres://u@h:5432/db?sslmode=disable",
            "NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA": "0",
        },
    )
    assert settings["storage.backend"] == "postgres"
    assert settings.source("storage.backend") == "env NOTARY_SERVER_STORAGE_BACKEND"
    assert settings["caching.max_age.current_metadata"] == 0
    assert settings.source("caching.max_age.current_metadata") == (
        "env NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA"
    )
    # Untouched keys still come from the file.
    assert settings["caching.max_age.consistent_metadata"] == 31_536_000
    assert settings.source("caching.max_age.consistent_metadata") == str(config_file)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["a/", "b/c/"]', ("a/", "b/c/")),
        ("a/,b/c/", ("a/", "b/c/")),
        ("a/", ("a/",)),
        ("", ()),
        ("[]", ()),
    ],
)
def test_lists_from_the_environment(raw: str, expected: tuple[str, ...]) -> None:
    settings = load_settings(None, {"NOTARY_SERVER_REPOSITORIES_GUN_PREFIXES": raw})
    assert settings["repositories.gun_prefixes"] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("0", False),
        ("no", False),
    ],
)
def test_booleans_from_the_environment(raw: str, expected: bool) -> None:
    settings = load_settings(None, {"NOTARY_SERVER_AUTH_OPTIONS_AUTOREDIRECT": raw})
    assert settings["auth.options.autoredirect"] is expected


def test_integers_and_seconds_from_the_environment() -> None:
    settings = load_settings(
        None,
        {
            "NOTARY_SERVER_SERVER_WORKERS": " 8 ",
            "NOTARY_SERVER_JOBS_WAIT_TIMEOUT": "2.5",
            "NOTARY_SERVER_WEBHOOKS_MAX_ATTEMPTS": "3",
        },
    )
    assert settings["server.workers"] == 8
    assert settings["jobs.wait_timeout"] == 2.5
    assert settings["webhooks.max_attempts"] == 3


def test_keks_load_in_order_from_the_environment() -> None:
    settings = load_settings(
        None, {"NOTARY_SERVER_SIGNER_KEKS": f"{_kek('new', KEK_B)},{_kek('old.1', KEK_A)}"}
    )
    assert settings["signer.keks"] == (("new", KEK_B), ("old.1", KEK_A))
    assert require_keks(settings) == (("new", KEK_B), ("old.1", KEK_A))


# --- failures ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"bogus": 1}, "bogus"),
        ({"server": {"bogus": 1}}, "server.bogus"),
        ({"caching": {"max_age": {"bogus": 1}}}, "caching.max_age.bogus"),
        ({"caching": {"bogus": {}}}, "caching.bogus"),
        ({"storage": {"tls_ca_file": "ca.pem"}}, "storage.tls_ca_file"),
        ({"server": "not an object"}, "server"),
        ({"caching": {"max_age": []}}, "caching.max_age"),
    ],
)
def test_unknown_or_misshaped_keys_in_the_file(tmp_path: Path, document: Any, key: str) -> None:
    config_file = _write(tmp_path, document)
    _assert_names(_config_error(config_file, {}), key, str(config_file))


def test_file_whose_root_is_not_an_object(tmp_path: Path) -> None:
    config_file = _write(tmp_path, [1, 2])
    error = _config_error(config_file, {})
    assert error.source == str(config_file)
    assert "must be a JSON object" in str(error)


def test_unknown_notary_server_environment_variable() -> None:
    error = _config_error(None, {"NOTARY_SERVER_SERVER_BOGUS": "1"})
    _assert_names(error, "NOTARY_SERVER_SERVER_BOGUS", "env NOTARY_SERVER_SERVER_BOGUS")


@pytest.mark.parametrize(
    ("env_name", "value", "key"),
    [
        ("NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA", "ten", "caching.max_age.current_metadata"),
        ("NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA", "1.5", "caching.max_age.current_metadata"),
        ("NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA", "-1", "caching.max_age.current_metadata"),
        (
            "NOTARY_SERVER_CACHING_MAX_AGE_CONSISTENT_METADATA",
            "31536001",
            "caching.max_age.consistent_metadata",
        ),
        ("NOTARY_SERVER_SERVER_WORKERS", "0", "server.workers"),
        ("NOTARY_SERVER_SERVER_HTTP_ADDR", "localhost", "server.http_addr"),
        ("NOTARY_SERVER_SERVER_HTTP_ADDR", "127.0.0.1:0", "server.http_addr"),
        ("NOTARY_SERVER_SERVER_HTTP_ADDR", "127.0.0.1:65536", "server.http_addr"),
        ("NOTARY_SERVER_SERVER_HTTP_ADDR", "127.0.0.1:https", "server.http_addr"),
        ("NOTARY_SERVER_STORAGE_BACKEND", "memory", "storage.backend"),
        ("NOTARY_SERVER_TRUST_SERVICE_KEY_ALGORITHM", "dsa", "trust_service.key_algorithm"),
        ("NOTARY_SERVER_AUTH_OPTIONS_AUTOREDIRECT", "maybe", "auth.options.autoredirect"),
        ("NOTARY_SERVER_JOBS_WAIT_TIMEOUT", "0", "jobs.wait_timeout"),
        ("NOTARY_SERVER_JOBS_WAIT_TIMEOUT", "soon", "jobs.wait_timeout"),
        ("NOTARY_SERVER_REPOSITORIES_GUN_PREFIXES", '["a/"', "repositories.gun_prefixes"),
    ],
)
def test_bad_values_from_the_environment(env_name: str, value: str, key: str) -> None:
    _assert_names(_config_error(None, {env_name: value}), key, f"env {env_name}")


@pytest.mark.parametrize(
    ("document", "key"),
    [
        ({"caching": {"max_age": {"current_metadata": 31_536_001}}}, "caching.max_age.current_metadata"),
        ({"caching": {"max_age": {"current_metadata": -1}}}, "caching.max_age.current_metadata"),
        ({"caching": {"max_age": {"consistent_metadata": True}}}, "caching.max_age.consistent_metadata"),
        ({"caching": {"max_age": {"consistent_metadata": 2.5}}}, "caching.max_age.consistent_metadata"),
        ({"server": {"http_addr": 4443}}, "server.http_addr"),
        ({"server": {"http_addr": "[::1]"}}, "server.http_addr"),
        ({"storage": {"backend": "rethinkdb"}}, "storage.backend"),
        ({"logging": {"level": "trace"}}, "logging.level"),
        ({"auth": {"options": {"autoredirect": "sometimes"}}}, "auth.options.autoredirect"),
        ({"repositories": {"gun_prefixes": [1]}}, "repositories.gun_prefixes"),
    ],
)
def test_bad_values_in_the_file(tmp_path: Path, document: Any, key: str) -> None:
    config_file = _write(tmp_path, document)
    _assert_names(_config_error(config_file, {}), key, str(config_file))


def test_max_age_bounds_are_inclusive(tmp_path: Path) -> None:
    document = {"caching": {"max_age": {"current_metadata": 0, "consistent_metadata": 31_536_000}}}
    settings = load_settings(_write(tmp_path, document), {})
    assert settings["caching.max_age.current_metadata"] == 0
    assert settings["caching.max_age.consistent_metadata"] == 31_536_000


@pytest.mark.parametrize(
    "prefix",
    ["docker.io", "/docker.io/", "../docker.io/", "docker.io/../x/", "a//b/", "a/./b/", "/", "./"],
)
def test_bad_gun_prefixes(tmp_path: Path, prefix: str) -> None:
    config_file = _write(tmp_path, {"repositories": {"gun_prefixes": ["ok/", prefix]}})
    error = _config_error(config_file, {})
    _assert_names(error, "repositories.gun_prefixes", str(config_file))
    assert repr(prefix) in str(error)


@pytest.mark.parametrize("prefix", ["docker.io/", "a/b/c/", "example.com/My Team/"])
def test_good_gun_prefixes(tmp_path: Path, prefix: str) -> None:
    settings = load_settings(_write(tmp_path, {"repositories": {"gun_prefixes": [prefix]}}), {})
    assert settings["repositories.gun_prefixes"] == (prefix,)


@pytest.mark.parametrize(
    ("document", "key", "mentions"),
    [
        ({"server": {"tls_cert_file": "c.pem"}}, "server.tls_key_file", "server.tls_cert_file"),
        ({"server": {"tls_key_file": "k.pem"}}, "server.tls_cert_file", "server.tls_key_file"),
        ({"server": {"client_ca_file": "ca.pem"}}, "server.client_ca_file", "server.tls_cert_file"),
        ({"storage": {"backend": "mysql"}}, "storage.db_url", "mysql"),
        ({"storage": {"backend": "postgres"}}, "storage.db_url", "postgres"),
        ({"auth": {"type": "token"}}, "auth.options.realm", "auth.type"),
        (
            {"auth": {"type": "token", "options": {"realm": "r", "service": "s", "issuer": "i"}}},
            "auth.options.rootcertbundle",
            "auth.type",
        ),
        (
            {"reporting": {"bugsnag": {"endpoint": "https://b.example"}}},
            "reporting.bugsnag.api_key",
            "bugsnag",
        ),
        ({"reporting": {"bugsnag": {"release_stage": "prod"}}}, "reporting.bugsnag.api_key", "bugsnag"),
    ],
)
def test_options_that_need_each_other(tmp_path: Path, document: Any, key: str, mentions: str) -> None:
    error = _config_error(_write(tmp_path, document), {})
    assert error.key == key
    assert key in str(error)
    assert mentions in error.problem
    # The missing key was set nowhere, so its source is the default.
    assert f"(from {error.source})" in str(error)


def test_combination_checks_see_environment_overrides(tmp_path: Path) -> None:
    config_file = _write(tmp_path, {"storage": {"backend": "mysql", "db_url": "u:p@tcp(h:3306)/db"}})
    error = _config_error(config_file, {"NOTARY_SERVER_STORAGE_DB_URL": ""})
    _assert_names(error, "storage.db_url", "env NOTARY_SERVER_STORAGE_DB_URL")


def test_tls_with_cert_key_and_client_ca_loads(tmp_path: Path) -> None:
    document = {"server": {"tls_cert_file": "c.pem", "tls_key_file": "k.pem", "client_ca_file": "ca.pem"}}
    settings = load_settings(_write(tmp_path, document), {})
    assert settings.path("server.client_ca_file") == tmp_path.resolve() / "ca.pem"


def test_non_json_file(tmp_path: Path) -> None:
    config_file = tmp_path / "server.json"
    config_file.write_text('{"server": {"http_addr": ":4443",}', encoding="utf-8")
    error = _config_error(config_file, {})
    _assert_names(error, "-config", str(config_file))
    assert "not valid JSON" in str(error)


def test_non_utf8_file(tmp_path: Path) -> None:
    config_file = tmp_path / "server.json"
    config_file.write_bytes(b'{"server": "\xff\xfe"}')
    _assert_names(_config_error(config_file, {}), "-config", str(config_file))


@pytest.mark.parametrize("name", ["server.yaml", "server.yml", "server.toml", "server"])
def test_only_json_files_are_supported(tmp_path: Path, name: str) -> None:
    config_file = tmp_path / name
    config_file.write_text("server:\n  http_addr: ':4443'\n", encoding="utf-8")
    error = _config_error(config_file, {})
    _assert_names(error, "-config", str(config_file))
    assert "JSON" in str(error)


def test_missing_file(tmp_path: Path) -> None:
    config_file = tmp_path / "absent.json"
    error = _config_error(config_file, {})
    _assert_names(error, "-config", str(config_file))
    assert "cannot read file" in str(error)


def test_unreadable_file(tmp_path: Path) -> None:
    # A directory cannot be read as a file even by root (chmod 000 would not stop root).
    config_file = tmp_path / "folder.json"
    config_file.mkdir()
    error = _config_error(config_file, {})
    _assert_names(error, "-config", str(config_file))
    assert "cannot read file" in str(error)


@pytest.mark.parametrize(
    "entries",
    [
        ["no-colon-here"],
        [f"bad id!:{base64.b64encode(KEK_A).decode()}"],
        [f":{base64.b64encode(KEK_A).decode()}"],
        ["k1:not*base64"],
        [_kek("short", KEK_A[:16])],
        [_kek("long", KEK_A + KEK_B)],
        [_kek("same", KEK_A), _kek("same", KEK_B)],
    ],
)
def test_malformed_keks(tmp_path: Path, entries: list[str]) -> None:
    config_file = _write(tmp_path, {"signer": {"keks": entries}})
    error = _config_error(config_file, {})
    _assert_names(error, "signer.keks", str(config_file))
    for material in (KEK_A, KEK_B, KEK_A[:16]):
        assert base64.b64encode(material).decode() not in str(error)


def test_malformed_keks_from_the_environment() -> None:
    error = _config_error(None, {"NOTARY_SERVER_SIGNER_KEKS": _kek("k", KEK_A[:31])})
    _assert_names(error, "signer.keks", "env NOTARY_SERVER_SIGNER_KEKS")
    assert "32 bytes" in str(error)


def test_require_keks_without_any_configured() -> None:
    settings = load_settings(None, {})
    with pytest.raises(ConfigError) as caught:
        require_keks(settings)
    assert caught.value.key == "signer.keks"
    assert "NOTARY_SERVER_SIGNER_KEKS" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_with_overrides_rejects_unknown_keys() -> None:
    settings = load_settings(None, {})
    changed = settings.with_overrides({"server.workers": 5})
    assert changed["server.workers"] == 5
    assert changed.source("server.workers") == "override"
    assert settings["server.workers"] == 2
    with pytest.raises(ConfigError, match=r"server\.nope"):
        settings.with_overrides({"server.nope": 1})


# --- redaction -----------------------------------------------------------------------------------------


def test_redacted_hides_secrets_and_keeps_the_rest(tmp_path: Path) -> None:
    secrets = {
        "NOTARY_SERVER_STORAGE_DB_URL": "mysql://notary:hunter2@db/notary",
        "NOTARY_SERVER_REPORTING_BUGSNAG_API_KEY": "bugsnag-secret-key",
        "NOTARY_SERVER_WEBHOOKS_SECRET": "whsec_c2VjcmV0LXdlYmhvb2sta2V5",
        "NOTARY_SERVER_SIGNER_KEKS": _kek("k1", KEK_A),
        "NOTARY_SERVER_BROKER_URL": "rediss://:broker-password@redis:6379/0",
    }
    settings = load_settings(
        None,
        {**secrets, "NOTARY_SERVER_STORAGE_BACKEND": "mysql", "NOTARY_SERVER_SERVER_HTTP_ADDR": ":8443"},
    )
    redacted = settings.redacted()

    for key in (
        "storage.db_url",
        "reporting.bugsnag.api_key",
        "webhooks.secret",
        "signer.keks",
        "broker.url",
    ):
        assert redacted[key] == "<redacted>", key
    text = repr(redacted)
    for needle in ("hunter2", "bugsnag-secret-key", "c2VjcmV0LXdlYmhvb2sta2V5", "broker-password"):
        assert needle not in text
    assert base64.b64encode(KEK_A).decode() not in text
    assert redacted["server.http_addr"] == ":8443"
    assert redacted["storage.backend"] == "mysql"
    assert redacted["caching.max_age.current_metadata"] == 300
    assert set(redacted) == {option.key for option in OPTIONS}
    # The settings themselves still carry the real values.
    assert settings["reporting.bugsnag.api_key"] == "bugsnag-secret-key"


def test_redacted_leaves_unset_secrets_visible_as_unset() -> None:
    redacted = load_settings(None, {}).redacted()
    assert redacted["storage.db_url"] is None
    assert redacted["signer.keks"] == ()


def test_path_options_resolve_against_base_dir() -> None:
    settings = Settings({"server.data_dir": "x"}, {"server.data_dir": "default"}, Path("/srv"))
    assert settings.data_dir == Path("/srv/x")
