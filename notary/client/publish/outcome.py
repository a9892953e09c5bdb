"""A job document (``GET /v1/jobs/{id}``) read into what the CLI shows, and the exit code it ends in.

    {"id", "kind", "state": "queued|running|succeeded|failed",
     "progress": {"done", "total", "failed"},                            (bulk jobs)
     "result": {"repositories": [{"gun", "state": "published", "version"}
                                 | {"gun", "state": "failed", "error": {"code", "message"}}]},
     "error": {"code", "message", "detail"}}                             (a failed job)

Exit codes: 0 when the job succeeded and every repository was published, 1 when any repository failed,
4 when the job itself failed, 5 while it has not finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from notary.client.publish.errors import ExitCode, ServerError
from notary.jobs import JobState

PUBLISHED: Final = "published"


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    failed: int


@dataclass(frozen=True)
class RepositoryOutcome:
    gun: str
    published: bool
    version: int | None = None
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class JobReport:
    id: str
    kind: str
    state: JobState
    progress: Progress | None
    repositories: tuple[RepositoryOutcome, ...] | None  # None unless the job's result lists repositories
    error_code: str
    error_message: str
    document: Mapping[str, Any]  # as the server sent it, for --json

    @property
    def finished(self) -> bool:
        return self.state.terminal

    @property
    def failures(self) -> tuple[RepositoryOutcome, ...]:
        return tuple(outcome for outcome in self.repositories or () if not outcome.published)

    @property
    def exit_code(self) -> ExitCode:
        if self.state is JobState.FAILED:
            return ExitCode.JOB_FAILED
        if self.state is not JobState.SUCCEEDED:
            return ExitCode.NOT_FINISHED
        return ExitCode.FAILURES if self.failures else ExitCode.OK

    @classmethod
    def parse(cls, document: object) -> JobReport:
        """Raises ``ServerError`` for anything that is not a job document."""
        try:
            return cls._parse(document)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ServerError(
                f"the server's job document is not understood ({error})", code="BAD_ANSWER"
            ) from None

    @classmethod
    def _parse(cls, document: Any) -> JobReport:
        if not isinstance(document, dict):
            raise TypeError("not an object")
        error = document.get("error") or {}
        result = document.get("result")
        listed = result.get("repositories") if isinstance(result, dict) else None
        return cls(
            id=_text(document["id"]),
            kind=_text(document.get("kind", "")),
            state=JobState(document["state"]),
            progress=_progress(document.get("progress")),
            repositories=None if listed is None else tuple(_outcome(entry) for entry in listed),
            error_code=_text(error.get("code", "")),
            error_message=_text(error.get("message", "")),
            document=document,
        )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _progress(value: object) -> Progress | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("progress is not an object")
    return Progress(_count(value["done"]), _count(value["total"]), _count(value.get("failed", 0)))


def _outcome(entry: object) -> RepositoryOutcome:
    if not isinstance(entry, dict):
        raise TypeError("a repository result is not an object")
    gun = _text(entry["gun"])
    if entry.get("state") == PUBLISHED:
        version = entry.get("version")
        return RepositoryOutcome(gun, True, version=None if version is None else _count(version))
    error = entry.get("error") or {}
    return RepositoryOutcome(
        gun, False, code=_text(error.get("code", "UNKNOWN")), message=_text(error.get("message", ""))
    )
