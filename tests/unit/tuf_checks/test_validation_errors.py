"""The INVALID_UPDATE detail objects: notary's SerializableError shape, with the Go client's names."""

from __future__ import annotations

import pytest

from notary.tuf.errors import (
    BadHierarchyError,
    BadRootError,
    BadSnapshotError,
    BadTargetsError,
    GeneralValidationError,
    ValidationError,
)


@pytest.mark.parametrize(
    ("error_class", "name"),
    [
        (BadRootError, "ErrBadRoot"),
        (BadTargetsError, "ErrBadTargets"),
        (BadSnapshotError, "ErrBadSnapshot"),
        (GeneralValidationError, "ErrValidation"),
    ],
)
def test_detail_is_name_and_msg(error_class: type[ValidationError], name: str) -> None:
    error = error_class("something is wrong")
    assert isinstance(error, ValidationError)
    assert error.name == name
    assert error.msg == "something is wrong"
    assert str(error) == "something is wrong"
    assert error.detail() == {"Name": name, "Error": {"Msg": "something is wrong"}}


def test_bad_hierarchy_carries_missing() -> None:
    error = BadHierarchyError("snapshot", "no snapshot was included in update")
    assert isinstance(error, ValidationError)
    assert error.name == "ErrBadHierarchy"
    assert (error.missing, error.msg) == ("snapshot", "no snapshot was included in update")
    assert error.detail() == {
        "Name": "ErrBadHierarchy",
        "Error": {"Missing": "snapshot", "Msg": "no snapshot was included in update"},
    }


def test_errors_can_be_raised_and_caught_as_validation_errors() -> None:
    with pytest.raises(ValidationError) as caught:
        raise BadTargetsError("valid signatures did not meet threshold for targets")
    assert caught.value.detail()["Name"] == "ErrBadTargets"
