"""Job states, their legal transitions, and the RFC 7240 ``Prefer: respond-async`` preference."""

from __future__ import annotations

import enum
import re
from urllib.parse import urlsplit

from notary.errors import InvalidRequestError


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


# RUNNING -> RUNNING is a redelivery after a worker died mid-task: the new attempt takes the job over.
ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.RUNNING, JobState.SUCCEEDED, JobState.FAILED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
}


def can_transition(current: JobState, new: JobState) -> bool:
    return new in ALLOWED_TRANSITIONS[current]


_PREFER_TOKEN = re.compile(r"(?:^|[,;\s])respond-async(?:$|[,;\s=])", re.IGNORECASE)


def prefers_async(prefer_header: str | None) -> bool:
    """True when the Prefer header (RFC 7240) carries the ``respond-async`` preference."""
    return bool(prefer_header) and _PREFER_TOKEN.search(prefer_header or "") is not None


def validate_callback_url(url: object, field: str = "callback_url") -> str:
    """A webhook target must be an absolute http(s) URL without credentials in it."""
    if not isinstance(url, str) or len(url) > 2048:
        raise InvalidRequestError(f"{field} must be a string of at most 2048 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError(f"{field} must be an absolute http or https URL")
    if parts.username or parts.password:
        raise InvalidRequestError(f"{field} must not carry credentials")
    return url
