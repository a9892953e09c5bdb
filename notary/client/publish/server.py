"""HTTP calls to a Notary server: submit a bulk publish, read a job; transient failures are retried.

Retried with exponential backoff (capped), honouring ``Retry-After``: connection failures and timeouts,
``429`` and ``5xx``. Re-sending the submission is safe because it always carries an Idempotency-Key: the
server answers a repeat with the job the first request created. TLS errors are not retried (they do not
heal). Everything else becomes one of ``notary.client.publish.errors``, with the server's code and message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any, Final
from urllib.parse import quote

import requests
from requests.auth import AuthBase

from notary.client.publish.errors import (
    JobNotFoundError,
    RequestRefusedError,
    ServerError,
    UnauthorizedError,
    UnsupportedError,
)

BULK_PUBLISH_PATH: Final = "/v1/bulk/publish"
RETRIED_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER: Final = 300.0  # seconds; a longer Retry-After is taken as this, not waited out blindly
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class Backoff:
    """``first * factor^(n-1)`` seconds before the n-th retry, at most ``cap``; ``attempts`` in all."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 10.0
    attempts: int = 8  # about 35 s of retries with the defaults: a server restart fits in it

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.first * self.factor ** max(attempt - 1, 0))


@dataclass(frozen=True)
class Answer:
    document: dict[str, Any]
    retry_after: float | None  # the server's hint for when to ask again


@dataclass(frozen=True)
class Submitted:
    document: dict[str, Any]
    location: str | None
    created: bool  # False: the Idempotency-Key's job already existed (200), nothing new was started


class Server:
    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthBase | None = None,
        verify: bool | str = True,
        cert: tuple[str, str] | None = None,
        timeout: float = 30.0,
        backoff: Backoff = Backoff(),
        sleep: Sleep = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.backoff = backoff
        self._sleep = sleep
        self._session = requests.Session()
        self._session.auth = auth
        self._session.verify = verify
        self._session.cert = cert
        self._session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self._session.close()

    def submit(
        self,
        body: bytes | IO[bytes],
        content_type: str,
        idempotency_key: str,
        params: Mapping[str, str] | None = None,
    ) -> Submitted:
        """``POST /v1/bulk/publish``; the job as the 202 (or a repeat's 200) describes it."""
        headers = {"Content-Type": content_type, "Idempotency-Key": idempotency_key}
        response = self._request("POST", BULK_PUBLISH_PATH, data=body, headers=headers, params=params)
        if response.status_code in (404, 405):
            raise UnsupportedError(
                f"{self.base_url} does not offer bulk publishing ({BULK_PUBLISH_PATH} answered"
                f" {response.status_code})"
            )
        return Submitted(_document(response), response.headers.get("Location"), response.status_code == 202)

    def job(self, job_id: str) -> Answer:
        """``GET /v1/jobs/{id}``."""
        response = self._request("GET", f"/v1/jobs/{quote(job_id, safe='')}")
        if response.status_code == 404:
            code, message = _server_error(response)
            raise JobNotFoundError(f"{self.base_url} has no job {job_id!r} ({message or code})")
        return Answer(_document(response), retry_after(response.headers.get("Retry-After")))

    def _request(self, method: str, path: str, **options: Any) -> requests.Response:
        body = options.get("data")
        rewind = getattr(body, "seek", None)
        for attempt in range(1, self.backoff.attempts + 1):
            if rewind is not None:
                rewind(0)  # a retry sends the file from its start
            last = attempt == self.backoff.attempts
            try:
                response = self._session.request(
                    method, self.base_url + path, timeout=self.timeout, allow_redirects=False, **options
                )
            except requests.exceptions.SSLError as error:
                raise ServerError(f"TLS with {self.base_url} failed: {error}", code="TLS") from None
            except (requests.ConnectionError, requests.Timeout) as error:
                if last:
                    raise ServerError(f"cannot reach {self.base_url}: {type(error).__name__}") from None
                self._sleep(self.backoff.delay(attempt))
                continue
            if response.status_code in RETRIED_STATUSES and not last:
                hint = retry_after(response.headers.get("Retry-After"))
                self._sleep(max(self.backoff.delay(attempt), hint or 0.0))
                continue
            _raise_for_refusal(response, self.base_url)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")


def retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP-date), within 0..MAX_RETRY_AFTER."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # an HTTP-date is always GMT
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now()).total_seconds(), 0.0), MAX_RETRY_AFTER)


def _raise_for_refusal(response: requests.Response, base_url: str) -> None:
    status = response.status_code
    if status < 400 or status in (404, 405):  # what a 404 means depends on the call
        return
    code, message = _server_error(response)
    text = f"{base_url} answered {status} {code}" + (f": {message}" if message else "")
    if status in (401, 403):
        hint = " (pass --token or set NOTARY_TOKEN)" if status == 401 else ""
        raise UnauthorizedError(text + hint, code=code or None, status=status)
    if status >= 500 or status == 429:
        raise ServerError(text, code=code or None, status=status)
    raise RequestRefusedError(text, code=code or f"HTTP_{status}", status=status)


def _server_error(response: requests.Response) -> tuple[str, str]:
    """(code, message) of notary's envelope ``{"errors":[{"code","message"}]}``, or empty strings."""
    try:
        first = response.json()["errors"][0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "", ""


def _document(response: requests.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ServerError(
            f"{response.url} answered {response.status_code} without a JSON object", code="BAD_ANSWER"
        )
    return document
