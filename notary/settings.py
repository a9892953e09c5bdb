"""Typed settings: defaults < JSON config file < ``NOTARY_SERVER_*`` environment.

The keys are notary-server's own (so existing deployment manifests keep working) plus our sections
(``broker``, ``signer``, ``jobs``, ``webhooks``). Every option is declared once in ``OPTIONS``; the
environment name is derived from the key exactly as notary does (upper case, ``.`` → ``_``). Any problem
raises ``ConfigError`` naming the key and where its value came from, so start-up fails with one line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notary.errors import ConfigError

ENV_PREFIX = "NOTARY_SERVER_"
DEFAULT_SOURCE = "default"
MAX_CACHE_AGE = 31_536_000


@dataclass(frozen=True)
class Option:
    key: str
    parse: Callable[[Any], Any]
    default: Any = None
    secret: bool = False

    @property
    def env_name(self) -> str:
        return ENV_PREFIX + self.key.upper().replace(".", "_")


# Value parsers: each takes a JSON value (or an env string) and returns the typed value or raises ValueError.


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value in (None, "") else _text(value)


def _integer(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("must be an integer")
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"-?\d+", value):
                raise ValueError("must be an integer")
            value = int(value)
        if not isinstance(value, int):
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _seconds(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError("must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("must be a positive number of seconds")
    return float(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ValueError("must be true or false")


def _choice(*allowed: str, aliases: Mapping[str, str] | None = None) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if isinstance(value, str):
            value = (aliases or {}).get(value.lower(), value.lower())
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return str(value)

    return parse


def _text_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        stripped = value.strip()
        value = json.loads(stripped) if stripped.startswith("[") else [p for p in stripped.split(",") if p]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError("must be a list of non-empty strings")
    return tuple(value)


def _http_addr(value: Any) -> str:
    text = _text(value)
    _host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('must be "host:port" (for example "127.0.0.1:4443" or ":4443")')
    return text


def _gun_prefixes(value: Any) -> tuple[str, ...]:
    prefixes = _text_list(value)
    for prefix in prefixes:
        segments = prefix[:-1].split("/")
        unclean = any(segment in ("", ".", "..") for segment in segments)
        if not prefix.endswith("/") or prefix.startswith("/") or unclean:
            raise ValueError(
                f"prefix {prefix!r} must end in '/', be path-clean and not start with '/' or '..'"
            )
    return prefixes


def _keks(value: Any) -> tuple[tuple[str, bytes], ...]:
    """Key-encryption keys as ``id:base64(32 bytes)``; the first one encrypts, all of them decrypt."""
    keks: list[tuple[str, bytes]] = []
    for entry in _text_list(value):
        kek_id, sep, encoded = entry.partition(":")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", kek_id):
            raise ValueError("each entry must be 'id:base64key' with a short [A-Za-z0-9_.-] id")
        try:
            material = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise ValueError(f"key {kek_id!r} is not valid base64") from None
        if len(material) != 32:
            raise ValueError(f"key {kek_id!r} must decode to 32 bytes (AES-256)")
        if any(existing == kek_id for existing, _ in keks):
            raise ValueError(f"key id {kek_id!r} appears twice")
        keks.append((kek_id, material))
    return tuple(keks)


def _dc(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", text):
        raise ValueError("must be 1-64 characters of [A-Za-z0-9._-] (it is part of every key identity)")
    return text


def _json_list(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list):
        raise ValueError("must be a JSON list")
    return tuple(value)


def _url_map(value: Any) -> dict[str, str]:
    """``{"dc": "https://notary.dc.example"}``: the peer Notary of each other datacenter."""
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith(("http://", "https://"))
        for k, v in value.items()
    ):
        raise ValueError(
            'must map datacenter ids to http(s) URLs, e.g. {"us-east": "https://notary.us-east"}'
        )
    for dc in value:
        _dc(dc)  # a peer's dc is the one in its keys' identities
    return {dc: url.rstrip("/") for dc, url in value.items()}


OPTIONS: tuple[Option, ...] = (
    Option("server.http_addr", _http_addr, "127.0.0.1:4443"),
    Option("server.tls_cert_file", _optional_text),
    Option("server.tls_key_file", _optional_text),
    Option("server.client_ca_file", _optional_text),
    Option("server.workers", _integer(1, 64), 2),
    Option("server.data_dir", _text, "data"),
    Option(
        "storage.backend", _choice("sqlite", "mysql", "postgres", aliases={"sqlite3": "sqlite"}), "sqlite"
    ),
    Option("storage.db_url", _optional_text, secret=True),
    Option("trust_service.type", _choice("local", "remote"), "local"),
    Option("trust_service.key_algorithm", _choice("ecdsa", "ed25519", "rsa"), "ecdsa"),
    # Accepted so that notary-server manifests load; our signer is always the Celery signer process.
    Option("trust_service.hostname", _optional_text),
    Option("trust_service.port", _optional_text),
    Option("trust_service.tls_ca_file", _optional_text),
    Option("trust_service.tls_client_cert", _optional_text),
    Option("trust_service.tls_client_key", _optional_text),
    Option("auth.type", _optional_text),
    Option("auth.options.realm", _optional_text),
    Option("auth.options.service", _optional_text),
    Option("auth.options.issuer", _optional_text),
    Option("auth.options.rootcertbundle", _optional_text),
    Option("auth.options.autoredirect", _boolean, False),
    # The built-in token service (GET /auth/token); its tokens name auth.options.issuer and .service.
    Option("token_service.enabled", _boolean, False),
    Option("token_service.users_file", _optional_text),
    Option("token_service.grants_file", _optional_text),
    Option("token_service.key_file", _optional_text, secret=True),
    Option("token_service.cert_file", _optional_text),
    Option("token_service.ttl", _integer(60, 24 * 3600), 300),
    Option("logging.level", _choice("debug", "info", "warning", "error", "fatal", "panic"), "info"),
    Option("reporting.bugsnag.api_key", _optional_text, secret=True),
    Option("reporting.bugsnag.release_stage", _optional_text),
    Option("reporting.bugsnag.endpoint", _optional_text),
    Option("caching.max_age.current_metadata", _integer(0, MAX_CACHE_AGE), 300),
    Option("caching.max_age.consistent_metadata", _integer(0, MAX_CACHE_AGE), 2_592_000),
    Option("repositories.gun_prefixes", _gun_prefixes, ()),
    Option("limits.max_upload_bytes", _integer(1024, 2**31), 32 * 1024 * 1024),
    Option("limits.max_part_bytes", _integer(1024, 2**31), 16 * 1024 * 1024),
    Option("limits.max_bulk_repositories", _integer(1, 100_000), 1000),
    # Beat re-signs a timestamp (and a server-held snapshot) this long before it would expire.
    Option("tuf.refresh_before", _integer(60, 13 * 24 * 3600), 7 * 24 * 3600),
    Option("broker.url", _optional_text, secret=True),
    # How long an unacknowledged task may stay with a worker before Redis hands it to another one; it bounds
    # how soon a task from a worker that died (even with SIGKILL) is redelivered.
    Option("broker.visibility_timeout", _seconds, 300.0),
    # Redis over TLS (a rediss:// broker.url): the CA of Redis's certificate, and our client certificate.
    Option("broker.tls_ca_file", _optional_text),
    Option("broker.tls_cert_file", _optional_text),
    Option("broker.tls_key_file", _optional_text, secret=True),
    # Celery message signing: this process's certificate and key, and the peer certificates it accepts.
    Option("security.key_file", _optional_text, secret=True),
    Option("security.cert_file", _optional_text),
    Option("security.cert_store", _optional_text),
    Option("signer.keks", _keks, (), secret=True),
    # A key minted by GET/POST {timestamp,snapshot}.key that no root has activated after this long is deleted.
    Option("signer.pending_key_max_age", _integer(3600, 365 * 24 * 3600), 7 * 24 * 3600),
    Option("jobs.wait_timeout", _seconds, 30.0),
    Option("jobs.requeue_after", _seconds, 120.0),
    Option("jobs.retention", _integer(3600, 365 * 24 * 3600), 7 * 24 * 3600),
    # The shared-key service.
    Option("keys.dc", _dc, "local"),
    Option("keys.ttl", _integer(60, 7 * 24 * 3600), 3600),
    Option("keys.max_ttl", _integer(60, 365 * 24 * 3600), 24 * 3600),
    Option("keys.keks", _keks, (), secret=True),
    Option("keys.pinned_certificates", _text_list, ()),
    Option("keys.allowed_accounts", _text_list, ()),
    Option("keys.allowed_regions", _text_list, ()),
    Option("keys.allowed_images", _text_list, ()),
    Option("keys.skew", _integer(1, 3600), 300),
    Option("keys.access_list_retention", _integer(60, 365 * 24 * 3600), 30 * 24 * 3600),
    Option("keys.expiry_grace", _integer(0, 7 * 24 * 3600), 300),
    Option("keys.peers", _url_map, {}),
    # This Notary's own EC2 identity (the Warden body: document, PKCS7, and the nonce of its first login),
    # presented to each peer for a key that may fetch that peer's keys; see README "Federation".
    Option("keys.federation.document_file", _optional_text),
    Option("keys.federation.signature_file", _optional_text),
    Option("keys.federation.nonce", _optional_text, secret=True),
    Option("keys.federation.timeout", _seconds, 5.0),
    Option("keys.replay_cache", _boolean, False),
    Option("politician.provider", _choice("static", "http"), "static"),
    Option("politician.bindings", _json_list, ()),
    Option("politician.url", _optional_text),
    Option("politician.timeout", _seconds, 2.0),
    Option("politician.retries", _integer(0, 10), 3),
    Option("politician.cache_seconds", _integer(0, 3600), 30),
    Option("politician.ec2_enrichment", _boolean, False),
    Option("politician.ec2_endpoint_url", _optional_text),
    Option("webhooks.secret", _optional_text, secret=True),
    Option("webhooks.max_attempts", _integer(1, 50), 8),
    Option("webhooks.allow_private_targets", _boolean, False),
    Option("webhooks.backoff_base", _seconds, 2.0),
    Option("webhooks.timeout", _seconds, 10.0),
    Option("webhooks.retention", _integer(3600, 365 * 24 * 3600), 7 * 24 * 3600),
    Option("subscriptions.max_count", _integer(1, 10_000), 100),
)
_BY_KEY = {option.key: option for option in OPTIONS}
_BY_ENV = {option.env_name: option for option in OPTIONS}
# Sections whose value is a JSON object; anything else at these paths is an unknown key.
_SECTIONS = {key.rsplit(".", i)[0] for key in _BY_KEY for i in range(1, key.count(".") + 1)}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. ``values`` holds every option by dotted key; ``sources`` says where each
    came from (``default``, the config file path, or ``env NOTARY_SERVER_...``)."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    base_dir: Path = field(default_factory=Path.cwd)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def source(self, key: str) -> str:
        return self.sources[key]

    def path(self, key: str) -> Path | None:
        """A path option resolved against the config file's folder, as notary does."""
        raw = self.values[key]
        return None if raw is None else (self.base_dir / raw).resolve()

    @property
    def data_dir(self) -> Path:
        data_dir = self.path("server.data_dir")
        assert data_dir is not None
        return data_dir

    @property
    def db_url(self) -> str:
        configured: str | None = self.values["storage.db_url"]
        return configured or f"sqlite:///{self.data_dir / 'notary.db'}"

    @property
    def broker_url(self) -> str:
        configured: str | None = self.values["broker.url"]
        return configured or f"redis+socket://{self.data_dir / 'redis.sock'}"

    @property
    def http_host_port(self) -> tuple[str, int]:
        host, _, port = str(self.values["server.http_addr"]).rpartition(":")
        return (host.strip("[]") or "0.0.0.0"), int(port)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Settings:
        """A copy with some values replaced (already typed); used by tests and process launchers."""
        values = dict(self.values)
        sources = dict(self.sources)
        for key, value in overrides.items():
            if key not in _BY_KEY:
                raise ConfigError(key, "override", "unknown key")
            values[key] = value
            sources[key] = "override"
        return Settings(values, sources, self.base_dir)

    def redacted(self) -> dict[str, Any]:
        """Values safe to log: secrets are replaced by a marker."""
        return {
            key: ("<redacted>" if _BY_KEY[key].secret and value else value)
            for key, value in self.values.items()
        }


def _flatten(document: Any, source: str, prefix: str = "") -> dict[str, Any]:
    if not isinstance(document, dict):
        raise ConfigError(prefix.rstrip(".") or "<root>", source, "must be a JSON object")
    flat: dict[str, Any] = {}
    for name, value in document.items():
        key = f"{prefix}{name}"
        if key in _BY_KEY:
            flat[key] = value
        elif key in _SECTIONS:
            flat.update(_flatten(value, source, key + "."))
        else:
            raise ConfigError(key, source, "unknown key")
    return flat


def _read_file(config_file: Path) -> dict[str, Any]:
    source = str(config_file)
    if config_file.suffix.lower() != ".json":
        raise ConfigError("-config", source, "only JSON configuration files are supported")
    try:
        document = json.loads(config_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("-config", source, f"cannot read file: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("-config", source, f"not valid JSON: {exc}") from None
    return _flatten(document, source)


def load_settings(config_file: Path | None, environ: Mapping[str, str]) -> Settings:
    """Resolve the configuration; raises ConfigError on the first problem."""
    raw: dict[str, tuple[Any, str]] = {o.key: (o.default, DEFAULT_SOURCE) for o in OPTIONS}
    base_dir = Path.cwd()
    if config_file is not None:
        base_dir = config_file.resolve().parent
        raw.update({key: (value, str(config_file)) for key, value in _read_file(config_file).items()})
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        option = _BY_ENV.get(name)
        if option is None:
            raise ConfigError(name, f"env {name}", "unknown setting")
        raw[option.key] = (value, f"env {name}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (value, source) in raw.items():
        option = _BY_KEY[key]
        sources[key] = source
        if source == DEFAULT_SOURCE:
            values[key] = value
            continue
        try:
            values[key] = option.parse(value)
        except (ValueError, json.JSONDecodeError) as exc:
            raise ConfigError(key, source, str(exc)) from None
    settings = Settings(values, sources, base_dir)
    _check_combinations(settings)
    return settings


def _check_combinations(settings: Settings) -> None:
    def fail(key: str, problem: str) -> None:
        raise ConfigError(key, settings.source(key), problem)

    if bool(settings["server.tls_cert_file"]) != bool(settings["server.tls_key_file"]):
        missing = "server.tls_key_file" if settings["server.tls_cert_file"] else "server.tls_cert_file"
        fail(missing, "server.tls_cert_file and server.tls_key_file must be given together")
    if settings["server.client_ca_file"] and not settings["server.tls_cert_file"]:
        fail("server.client_ca_file", "mutual TLS needs server.tls_cert_file and server.tls_key_file")
    backend = settings["storage.backend"]
    if backend != "sqlite" and not settings["storage.db_url"]:
        fail("storage.db_url", f"required when storage.backend is {backend}")
    if settings["auth.type"] == "token":
        for option in ("realm", "service", "issuer", "rootcertbundle"):
            if not settings[f"auth.options.{option}"]:
                fail(f"auth.options.{option}", 'required when auth.type is "token"')
    if settings["token_service.enabled"]:
        for key in (
            "token_service.users_file",
            "token_service.grants_file",
            "token_service.key_file",
            "token_service.cert_file",
            "auth.options.issuer",
            "auth.options.service",
        ):
            if not settings[key]:
                fail(key, "required when token_service.enabled is true")
    if settings["keys.max_ttl"] < settings["keys.ttl"]:
        fail("keys.max_ttl", "must be at least keys.ttl")
    _check_federation(settings, fail)
    if settings["politician.provider"] == "http" and not settings["politician.url"]:
        fail("politician.url", 'required when politician.provider is "http"')
    _check_broker_tls(settings)
    _check_message_signing(settings)
    api_key_set = bool(settings["reporting.bugsnag.api_key"])
    for option in ("release_stage", "endpoint"):
        if settings[f"reporting.bugsnag.{option}"] and not api_key_set:
            fail("reporting.bugsnag.api_key", "required when any reporting.bugsnag option is set")


def _check_federation(settings: Settings, fail: Callable[[str, str], None]) -> None:
    identity = ("keys.federation.document_file", "keys.federation.signature_file", "keys.federation.nonce")
    given = [key for key in identity if settings[key]]
    if given and len(given) != len(identity):
        missing = next(key for key in identity if not settings[key])
        fail(missing, f"the federation identity needs all of {', '.join(identity)}")
    if settings["keys.peers"] and not given:
        fail("keys.federation.signature_file", "keys.peers needs this Notary's federation identity")
    if settings["keys.dc"] in settings["keys.peers"]:
        fail("keys.peers", f"lists this Notary's own datacenter {settings['keys.dc']!r}")


def _check_broker_tls(settings: Settings) -> None:
    tls_keys = ("broker.tls_ca_file", "broker.tls_cert_file", "broker.tls_key_file")
    for key in tls_keys:
        if settings[key] and not settings.broker_url.startswith("rediss://"):
            raise ConfigError(key, settings.source(key), "needs a rediss:// broker.url")
    if bool(settings["broker.tls_cert_file"]) != bool(settings["broker.tls_key_file"]):
        missing = "broker.tls_key_file" if settings["broker.tls_cert_file"] else "broker.tls_cert_file"
        raise ConfigError(
            missing, settings.source(missing), "broker.tls_cert_file and broker.tls_key_file go together"
        )


def _check_message_signing(settings: Settings) -> None:
    keys = ("security.key_file", "security.cert_file", "security.cert_store")
    given = [key for key in keys if settings[key]]
    if given and len(given) < len(keys):
        missing = next(key for key in keys if not settings[key])
        raise ConfigError(
            missing, settings.source(missing), f"required with {given[0]}: give all of {', '.join(keys)}"
        )


def require_keks(settings: Settings) -> tuple[tuple[str, bytes], ...]:
    """The signer's key-encryption keys; only the signer process calls this, so only it needs them."""
    keks: tuple[tuple[str, bytes], ...] = settings["signer.keks"]
    if not keks:
        raise ConfigError(
            "signer.keks",
            settings.source("signer.keks"),
            "the signer needs at least one key-encryption key (set NOTARY_SERVER_SIGNER_KEKS=id:base64key)",
        )
    return keks
