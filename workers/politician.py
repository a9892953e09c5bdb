"""Role lookup providers (shared-keys.md section 4): where the roles of a new or renewed key come from.

* :class:`StaticProvider`: the role bindings of the configuration (``notary.keys.politician``);
* :class:`HttpProvider`: an HTTP Politician. ``POST <url>`` with the identity tuple as JSON, answer
  ``200 {"roles": [...]}``. Connection errors, timeouts and 5xx are retried with exponential backoff; any
  other status or a malformed answer fails at once. Every failure is :class:`RolesUnavailableError`
  (``503 ROLES_UNAVAILABLE``), never an empty list of roles. Answers are cached briefly (bounded LRU);
  failures are not.

The optional EC2 lookup of the VPC and autoscaling group is in :mod:`workers.ec2_enrichment`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Final

import httpx

from notary.keys.politician import (
    Binding,
    IdentityTuple,
    RolesUnavailableError,
    parse_bindings,
    parse_roles,
    static_roles,
)

__all__ = ["HttpProvider", "RolesUnavailableError", "StaticProvider"]

log = logging.getLogger("notary.politician")

DEFAULT_CACHE_ENTRIES: Final = 10_000
# A list of roles is small; anything near this is not an answer from Politician.
MAX_RESPONSE_BYTES: Final = 1024 * 1024


class StaticProvider:
    """Roles from the configuration's bindings: either the raw configuration value (a list of
    ``{"match": {...}, "roles": [...]}``, validated here, ``ValueError`` if wrong) or parsed bindings."""

    def __init__(self, bindings: Iterable[Binding] | object) -> None:
        if isinstance(bindings, list | tuple) and all(isinstance(item, Binding) for item in bindings):
            self.bindings: tuple[Binding, ...] = tuple(bindings)
        else:
            self.bindings = parse_bindings(bindings)

    def roles(self, identity: IdentityTuple) -> tuple[str, ...]:
        return static_roles(self.bindings, identity)


class _RetryableError(Exception):
    """One attempt failed in a way worth trying again (connection, timeout, 5xx)."""


class HttpProvider:
    """Roles from an HTTP Politician, with timeouts, retries with backoff and a short cache.

    ``retries`` is the number of attempts after the first one; before retry ``n`` (1-based) the provider
    sleeps ``backoff * 2 ** (n - 1)`` seconds. ``timeout`` applies to each phase of each attempt (connect,
    write, read of every chunk, pool), as httpx defines it. ``cache_seconds <= 0`` disables the cache.
    ``clock`` and ``sleep`` are injectable for tests; ``client`` too (it is then not closed by :meth:`close`).
    Safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        retries: int = 3,
        backoff: float = 0.2,
        cache_seconds: float = 30.0,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"the Politician URL must be an absolute http(s) URL, not {url!r}")
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError("retries must be a non-negative integer")
        if not backoff >= 0:
            raise ValueError("backoff must not be negative")
        if isinstance(cache_entries, bool) or not isinstance(cache_entries, int) or cache_entries < 1:
            raise ValueError("cache_entries must be a positive integer")
        self.url = url
        # For messages and logs: no credentials, no query string.
        self._label = str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.cache_seconds = float(cache_seconds)
        self.cache_entries = cache_entries
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=self.timeout)
        self._clock = clock
        self._sleep = sleep
        self._cache: OrderedDict[IdentityTuple, tuple[float, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    # --- the lookup ------------------------------------------------------------------------------------

    def roles(self, identity: IdentityTuple) -> tuple[str, ...]:
        """The roles of ``identity`` (sorted, de-duplicated, possibly empty if Politician says so), or
        :class:`RolesUnavailableError`."""
        if not isinstance(identity, IdentityTuple):
            raise TypeError("identity must be an IdentityTuple")
        cached = self._cached(identity)
        if cached is not None:
            return cached
        roles = self._fetch(identity)
        self._store(identity, roles)
        return roles

    def _fetch(self, identity: IdentityTuple) -> tuple[str, ...]:
        body = identity.to_dict()
        attempts = self.retries + 1
        reason = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return self._attempt(body)
            except _RetryableError as error:
                reason = str(error)
                log.warning(
                    "Politician role lookup failed (attempt %d of %d): %s",
                    attempt + 1,
                    attempts,
                    reason,
                    extra={"politician_url": self._label, "instance": identity.instance},
                )
        raise RolesUnavailableError(
            f"Politician at {self._label} is unavailable after {attempts} attempt(s): {reason}"
        )

    def _attempt(self, body: dict[str, str | None]) -> tuple[str, ...]:
        try:
            with self._client.stream(
                "POST",
                self.url,
                json=body,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
                if status >= 500:
                    raise _RetryableError(f"HTTP {status}")
                if status != 200:
                    raise self._unavailable(f"answered HTTP {status}")
                content = self._read_limited(response)
        except httpx.TimeoutException as error:
            raise _RetryableError(f"timed out ({type(error).__name__})") from None
        except httpx.TransportError as error:
            raise _RetryableError(f"{type(error).__name__}: {error}") from None
        except httpx.HTTPError as error:  # e.g. an undecodable Content-Encoding
            raise self._unavailable(f"sent an unreadable answer ({type(error).__name__})") from None
        return self._parse(content)

    def _read_limited(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise self._unavailable("sent an answer that is too large")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._unavailable("sent an answer that is too large")
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, content: bytes) -> tuple[str, ...]:
        try:
            document: Any = json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise self._unavailable("sent an answer that is not JSON") from None
        if not isinstance(document, dict) or "roles" not in document:
            raise self._unavailable('sent an answer that is not {"roles": [...]}')
        try:
            return parse_roles(document["roles"], where="roles")
        except ValueError as error:
            raise self._unavailable(f"sent invalid roles: {error}") from None

    def _unavailable(self, what: str) -> RolesUnavailableError:
        return RolesUnavailableError(f"Politician at {self._label} {what}")

    # --- the cache -------------------------------------------------------------------------------------

    def _cached(self, identity: IdentityTuple) -> tuple[str, ...] | None:
        if self.cache_seconds <= 0:
            return None
        now = self._clock()
        with self._lock:
            entry = self._cache.get(identity)
            if entry is None:
                return None
            expires, roles = entry
            if now >= expires:
                del self._cache[identity]
                return None
            self._cache.move_to_end(identity)
            return roles

    def _store(self, identity: IdentityTuple, roles: tuple[str, ...]) -> None:
        if self.cache_seconds <= 0:
            return
        expires = self._clock() + self.cache_seconds
        with self._lock:
            self._cache[identity] = (expires, roles)
            self._cache.move_to_end(identity)
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # --- lifecycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
