"""Validation failures of an update, shaped as notary-server reports them.

notary-server answers a failed validation with ``400 INVALID_UPDATE`` whose ``detail`` is a Go
``SerializableError``: ``{"Name": "<ErrBadRoot|...>", "Error": {...the error struct's fields...}}``.
The Go client decodes that detail and prints the message, so ``Name`` and the field names must be
notary's exactly; ``detail()`` gives that object.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadHierarchyError",
    "BadRootError",
    "BadSnapshotError",
    "BadTargetsError",
    "GeneralValidationError",
    "ValidationError",
]


class ValidationError(Exception):
    """An update that notary-server would refuse with INVALID_UPDATE; ``name`` is notary's error type."""

    name: ClassVar[str] = "ErrValidation"

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg

    def detail(self) -> dict[str, Any]:
        """The SerializableError object that goes into the error body's ``detail``."""
        return {"Name": self.name, "Error": {"Msg": self.msg}}


class BadRootError(ValidationError):
    name: ClassVar[str] = "ErrBadRoot"


class BadTargetsError(ValidationError):
    name: ClassVar[str] = "ErrBadTargets"


class BadSnapshotError(ValidationError):
    name: ClassVar[str] = "ErrBadSnapshot"


class GeneralValidationError(ValidationError):
    name: ClassVar[str] = "ErrValidation"


class BadHierarchyError(ValidationError):
    """A role the update needs is missing (notary: no snapshot and no server-held snapshot key)."""

    name: ClassVar[str] = "ErrBadHierarchy"

    def __init__(self, missing: str, msg: str) -> None:
        super().__init__(msg)
        self.missing = missing

    def detail(self) -> dict[str, Any]:
        return {"Name": self.name, "Error": {"Missing": self.missing, "Msg": self.msg}}
