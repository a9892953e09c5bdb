"""notary.errors: the wire form of one error and its rebuild from a job record."""

from __future__ import annotations

import pytest

from notary.errors import (
    ConfigError,
    InternalError,
    InvalidParametersError,
    InvalidRequestError,
    InvalidRoleError,
    JobNotFoundError,
    JobTimeoutError,
    MethodNotAllowedError,
    NotaryError,
    NotFoundError,
    PayloadTooLargeError,
    SignerUnavailableError,
    UnsupportedMediaTypeError,
)


def test_to_dict_without_detail_has_only_code_and_message() -> None:
    body = NotFoundError().to_dict()
    assert body == {
        "code": "METADATA_NOT_FOUND",
        "message": "You have requested metadata that does not exist.",
    }
    assert "detail" not in body


@pytest.mark.parametrize("detail", ["root", 0, "", [], {"gun": "a/b", "role": "root"}, ["x", "y"]])
def test_to_dict_keeps_any_detail_that_is_not_none(detail: object) -> None:
    body = InvalidRoleError(detail).to_dict()
    assert body == {
        "code": "INVALID_ROLE",
        "message": "The role you are attempting to operate on is invalid.",
        "detail": detail,
    }


def test_message_override_and_str() -> None:
    error = InvalidParametersError("n must be positive", message="Bad parameters.")
    assert error.to_dict() == {
        "code": "INVALID_PARAMETERS",
        "message": "Bad parameters.",
        "detail": "n must be positive",
    }
    assert str(error) == "Bad parameters.: n must be positive"
    # The override belongs to the instance, not the class.
    assert InvalidParametersError().message == "The parameters provided are not valid."
    assert str(InvalidParametersError()) == "The parameters provided are not valid."


@pytest.mark.parametrize(
    ("error_class", "code", "status"),
    [
        (NotFoundError, "METADATA_NOT_FOUND", 404),
        (JobNotFoundError, "JOB_NOT_FOUND", 404),
        (InvalidRequestError, "INVALID_REQUEST", 400),
        (InvalidRoleError, "INVALID_ROLE", 400),
        (InvalidParametersError, "INVALID_PARAMETERS", 400),
        (PayloadTooLargeError, "PAYLOAD_TOO_LARGE", 413),
        (UnsupportedMediaTypeError, "UNSUPPORTED_MEDIA_TYPE", 415),
        (MethodNotAllowedError, "METHOD_NOT_ALLOWED", 405),
        (SignerUnavailableError, "SIGNER_UNAVAILABLE", 503),
        (JobTimeoutError, "JOB_TIMEOUT", 504),
        (InternalError, "UNKNOWN", 500),
    ],
)
def test_codes_and_statuses_are_stable(error_class: type[NotaryError], code: str, status: int) -> None:
    assert error_class.code == code
    assert error_class.status == status


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (NotFoundError(), None),
        (JobNotFoundError("0f8fad5b-d9cb-469f-a165-70867728950e"), "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (InvalidRoleError("targets/../x"), "targets/../x"),
        (
            InvalidParametersError({"field": "keys", "problem": "empty"}),
            {"field": "keys", "problem": "empty"},
        ),
        (SignerUnavailableError(), None),
        (JobTimeoutError(30), 30),
        (PayloadTooLargeError(), None),
    ],
)
def test_from_dict_round_trips(error: NotaryError, detail: object) -> None:
    rebuilt = NotaryError.from_dict(error.to_dict())
    assert type(rebuilt) is type(error)
    assert (rebuilt.code, rebuilt.status, rebuilt.detail) == (error.code, error.status, detail)
    assert rebuilt.message == error.message
    assert rebuilt.to_dict() == error.to_dict()


def test_from_dict_of_an_internal_error_stays_a_generic_500() -> None:
    rebuilt = NotaryError.from_dict(InternalError().to_dict())
    assert type(rebuilt) is InternalError
    assert (rebuilt.code, rebuilt.status, rebuilt.message) == ("UNKNOWN", 500, "unknown error")
    assert "detail" not in rebuilt.to_dict()


@pytest.mark.parametrize(
    "data",
    [
        {"code": "NO_SUCH_CODE", "detail": "x"},
        {"code": "no_such_code"},
        {"detail": "no code at all"},
        {},
    ],
)
def test_from_dict_with_an_unknown_code_is_an_internal_error(data: dict[str, object]) -> None:
    rebuilt = NotaryError.from_dict(data)
    assert isinstance(rebuilt, InternalError)
    assert (rebuilt.code, rebuilt.status) == ("UNKNOWN", 500)
    assert rebuilt.detail == data.get("detail")


def test_codes_are_case_sensitive() -> None:
    rebuilt = NotaryError.from_dict({"code": "metadata_not_found"})
    assert rebuilt.status == 500


def test_config_error_is_one_line_naming_key_and_source() -> None:
    error = ConfigError(
        "storage.backend", "env NOTARY_SERVER_STORAGE_BACKEND", "must be one of sqlite, mysql"
    )
    assert str(error) == (
        "configuration error: storage.backend (from env NOTARY_SERVER_STORAGE_BACKEND): "
        "must be one of sqlite, mysql"
    )
    assert not isinstance(error, NotaryError)
