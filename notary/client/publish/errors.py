"""What ``notary-publish`` can fail with, each with a stable ``code`` and the process exit code it ends in.

These are the client's own failures (nothing here is ever sent over HTTP, so they carry an exit code, not
a status; the server's errors are ``notary.errors``). A server's refusal keeps the server's code.

    PublishError
    ├── LayoutError              2  INVALID_LAYOUT      the directory is not <gun>/metadata/<role>.json
    ├── RequestRefusedError      2  (server's code)     the server refused the request as invalid (4xx)
    ├── JobNotFoundError         2  JOB_NOT_FOUND       no job with this id
    ├── ServerError              3  UNREACHABLE         no answer, or 5xx/429 after the retries
    │   ├── UnauthorizedError    3  (server's code)     401/403: a token is missing or not good enough
    │   └── UnsupportedError     3  BULK_UNSUPPORTED    the server has no bulk publishing

Exit codes 0 (every repository published), 1 (some failed), 4 (the job itself failed) and 5 (not finished
when we stopped waiting) come from a job's outcome rather than from an error: see
``notary.client.publish.outcome``.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURES = 1
    USAGE = 2
    SERVER = 3
    JOB_FAILED = 4
    NOT_FINISHED = 5


class PublishError(Exception):
    code: ClassVar[str] = "ERROR"
    exit_code: ClassVar[ExitCode] = ExitCode.SERVER

    def __init__(
        self, message: str, *, code: str | None = None, job_id: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.job_id = job_id  # set once a job exists, so that the user can resume with `wait`
        self.status = status  # the HTTP status that caused it, if any

    @property
    def lines(self) -> list[str]:
        """The message for people, one problem a line."""
        return [self.message]

    def to_dict(self) -> dict[str, object]:
        """The error as ``--json`` prints it: the server's envelope entry shape."""
        entry: dict[str, object] = {"code": self.code, "message": self.message}
        if self.job_id is not None:
            entry["detail"] = {"job_id": self.job_id}
        return entry


class LayoutError(PublishError):
    code = "INVALID_LAYOUT"
    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems

    @property
    def lines(self) -> list[str]:
        return self.problems

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "detail": {"problems": self.problems}}


class RequestRefusedError(PublishError):
    exit_code = ExitCode.USAGE


class JobNotFoundError(PublishError):
    code = "JOB_NOT_FOUND"
    exit_code = ExitCode.USAGE


class ServerError(PublishError):
    code = "UNREACHABLE"
    exit_code = ExitCode.SERVER


class UnauthorizedError(ServerError):
    code = "UNAUTHORIZED"


class UnsupportedError(ServerError):
    code = "BULK_UNSUPPORTED"
