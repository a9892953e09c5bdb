"""The one error tree of the service.

Every error a client can see is a subclass of ``NotaryError`` with a stable ``code`` and HTTP ``status``;
the API renders it as notary's envelope ``{"errors":[{"code","message","detail"}]}``. Messages of the
notary-compatible codes are notary's own, because the Go client matches on the code and prints the detail.

    NotaryError
    ├── NotFoundError                 404 METADATA_NOT_FOUND
    ├── JobNotFoundError              404 JOB_NOT_FOUND
    ├── InvalidRequestError           400 INVALID_REQUEST
    │   ├── InvalidRoleError          400 INVALID_ROLE
    │   ├── InvalidParametersError    400 INVALID_PARAMETERS
    │   ├── InvalidGunError           400 INVALID_GUN
    │   ├── InvalidUpdateError        400 INVALID_UPDATE   (detail: notary's SerializableError)
    │   ├── VersionError              400 VERSION
    │   ├── NoFilenameError           400 NO_FILENAME
    │   ├── MalformedJSONError        400 MALFORMED_JSON
    │   ├── MalformedUploadError      400 MALFORMED_UPLOAD
    │   ├── WebhooksDisabledError     400 WEBHOOKS_DISABLED
    │   ├── InvalidIdempotencyKeyError 400 INVALID_IDEMPOTENCY_KEY
    │   ├── UnknownEventError         400 UNKNOWN_EVENT
    │   └── WebhookTargetRefusedError 400 WEBHOOK_TARGET_REFUSED
    ├── InvalidSignatureError         401 INVALID_SIGNATURE   (shared keys: the PKCS7 does not verify)
    ├── UnauthorizedError             401 UNAUTHORIZED
    │   └── TokenChallengeError       401 UNAUTHORIZED   (token auth: detail = required accesses + challenge)
    ├── NotAllowedError               403 NOT_ALLOWED
    ├── NonceMismatchError            403 NONCE_MISMATCH
    ├── RenewalLimitError             403 RENEWAL_LIMIT
    ├── KeyNotFoundError              404 KEY_NOT_FOUND
    ├── AccessEntryNotFoundError      404 ACCESS_ENTRY_NOT_FOUND
    ├── SubscriptionNotFoundError     404 SUBSCRIPTION_NOT_FOUND
    ├── DeliveryNotFoundError         404 DELIVERY_NOT_FOUND
    ├── TooManySubscriptionsError     409 TOO_MANY_SUBSCRIPTIONS
    ├── DeliveryNotFailedError        409 DELIVERY_NOT_FAILED
    ├── RolesUnavailableError         503 ROLES_UNAVAILABLE
    ├── KeysDisabledError             503 KEYS_DISABLED
    ├── FederationUnavailableError    503 FEDERATION_UNAVAILABLE   (a foreign key's Notary cannot be asked)
    ├── ReplayCacheUnavailableError   503 REPLAY_CACHE_UNAVAILABLE
    ├── PayloadTooLargeError          413 PAYLOAD_TOO_LARGE
    │   └── TooManyRepositoriesError  413 TOO_MANY_REPOSITORIES
    ├── IdempotencyKeyReusedError     422 IDEMPOTENCY_KEY_REUSED
    ├── UnsupportedMediaTypeError     415 UNSUPPORTED_MEDIA_TYPE
    ├── MethodNotAllowedError         405 METHOD_NOT_ALLOWED
    ├── ForbiddenError                403 FORBIDDEN
    ├── SignerUnavailableError        503 SIGNER_UNAVAILABLE
    ├── JobTimeoutError               504 JOB_TIMEOUT
    └── InternalError                 500 UNKNOWN   (message is generic; internals are only logged)

``ConfigError`` is separate: it stops start-up and is never sent to a client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NotaryError(Exception):
    code: ClassVar[str] = "UNKNOWN"
    status: ClassVar[int] = 500
    message: ClassVar[str] = "unknown error"
    headers: tuple[tuple[str, str], ...] = ()  # sent with the error (e.g. a WWW-Authenticate challenge)

    def __init__(self, detail: Any = None, *, message: str | None = None) -> None:
        self.detail = detail
        if message is not None:
            self.message = message  # type: ignore[misc]
        super().__init__(self.message if detail is None else f"{self.message}: {detail}")

    def to_dict(self) -> dict[str, Any]:
        """The wire form of one error; ``detail`` is omitted when None, as docker/distribution does."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NotaryError:
        """Rebuild an error recorded in a job, keeping its code, status and detail."""
        code = str(data.get("code", InternalError.code))
        error_class = _BY_CODE.get(code, InternalError)
        return error_class(data.get("detail"), message=data.get("message"))


class NotFoundError(NotaryError):
    code = "METADATA_NOT_FOUND"
    status = 404
    message = "You have requested metadata that does not exist."


class JobNotFoundError(NotaryError):
    code = "JOB_NOT_FOUND"
    status = 404
    message = "There is no job with this id."


class InvalidRequestError(NotaryError):
    code = "INVALID_REQUEST"
    status = 400
    message = "The request is invalid."


class InvalidRoleError(InvalidRequestError):
    code = "INVALID_ROLE"
    message = "The role you are attempting to operate on is invalid."


class InvalidParametersError(InvalidRequestError):
    code = "INVALID_PARAMETERS"
    message = "The parameters provided are not valid."


class InvalidGunError(InvalidRequestError):
    code = "INVALID_GUN"
    message = "The server does not support actions on images of this name."


class InvalidUpdateError(InvalidRequestError):
    code = "INVALID_UPDATE"
    message = "Update sent by the client is invalid."


class VersionError(InvalidRequestError):
    code = "VERSION"
    message = "A newer version of metadata is already available."


class NoFilenameError(InvalidRequestError):
    code = "NO_FILENAME"
    message = "No file/role name provided."


class MalformedJSONError(InvalidRequestError):
    code = "MALFORMED_JSON"
    message = "JSON sent by the client could not be parsed by the server"


class MalformedUploadError(InvalidRequestError):
    code = "MALFORMED_UPLOAD"
    message = "The body of your request is malformed."


class WebhooksDisabledError(InvalidRequestError):
    code = "WEBHOOKS_DISABLED"
    message = "This server has no webhooks.secret configured, so it cannot send callbacks."


class InvalidIdempotencyKeyError(InvalidRequestError):
    code = "INVALID_IDEMPOTENCY_KEY"
    message = "The Idempotency-Key header must be 1 to 255 printable ASCII characters."


class UnknownEventError(InvalidRequestError):
    code = "UNKNOWN_EVENT"
    message = "A subscription may only ask for known event names."


class WebhookTargetRefusedError(InvalidRequestError):
    code = "WEBHOOK_TARGET_REFUSED"
    message = "The URL does not resolve, or resolves to an address webhooks may not reach."


class InvalidSignatureError(NotaryError):
    code = "INVALID_SIGNATURE"
    status = 401
    message = "The identity document's signature does not verify against a trusted certificate."


class UnauthorizedError(NotaryError):
    code = "UNAUTHORIZED"
    status = 401
    message = "authentication required"


class TokenChallengeError(UnauthorizedError):
    """notary's 401 under token auth: ``detail`` lists the required accesses, and the response carries the
    ``WWW-Authenticate`` challenge that tells the client where to get a token and with which scope."""

    def __init__(self, detail: Any, *, challenge: str) -> None:
        super().__init__(detail)
        self.headers = (("WWW-Authenticate", challenge),)


class NotAllowedError(NotaryError):
    code = "NOT_ALLOWED"
    status = 403
    message = "This instance is not allowed to obtain a key."


class NonceMismatchError(NotaryError):
    code = "NONCE_MISMATCH"
    status = 403
    message = "This instance logged in before with another nonce, or with a later pendingTime."


class RenewalLimitError(NotaryError):
    code = "RENEWAL_LIMIT"
    status = 403
    message = "The key reached its maximum lifetime; authenticate again for a new key."


class KeyNotFoundError(NotaryError):
    code = "KEY_NOT_FOUND"
    status = 404
    message = "There is no such key, or it has expired or been revoked."


class AccessEntryNotFoundError(NotaryError):
    code = "ACCESS_ENTRY_NOT_FOUND"
    status = 404
    message = "The access list has no entry for this instance."


class SubscriptionNotFoundError(NotaryError):
    code = "SUBSCRIPTION_NOT_FOUND"
    status = 404
    message = "There is no subscription with this id."


class DeliveryNotFoundError(NotaryError):
    code = "DELIVERY_NOT_FOUND"
    status = 404
    message = "This subscription has no delivery with this id."


class TooManySubscriptionsError(NotaryError):
    code = "TOO_MANY_SUBSCRIPTIONS"
    status = 409
    message = "This server holds as many subscriptions as subscriptions.max_count allows."


class DeliveryNotFailedError(NotaryError):
    code = "DELIVERY_NOT_FAILED"
    status = 409
    message = "Only a delivery that gave up can be replayed."


class RolesUnavailableError(NotaryError):
    code = "ROLES_UNAVAILABLE"
    status = 503
    message = "Roles could not be looked up; no key was issued. Try again later."


class KeysDisabledError(NotaryError):
    code = "KEYS_DISABLED"
    status = 503
    message = "The shared-key service is not configured on this server (keys.keks, keys.pinned_certificates)."


class FederationUnavailableError(NotaryError):
    code = "FEDERATION_UNAVAILABLE"
    status = 503
    message = "The key's issuing datacenter cannot be asked now, so the request cannot be verified."


class ReplayCacheUnavailableError(NotaryError):
    code = "REPLAY_CACHE_UNAVAILABLE"
    status = 503
    message = "The replay cache cannot be reached, so the request cannot be verified."


class PayloadTooLargeError(NotaryError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    message = "The request body is larger than this server accepts."


class TooManyRepositoriesError(PayloadTooLargeError):
    code = "TOO_MANY_REPOSITORIES"
    message = "The request carries more repositories than this server accepts in one bulk request."


class IdempotencyKeyReusedError(NotaryError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422
    message = "This Idempotency-Key was already used with a different request."


class UnsupportedMediaTypeError(NotaryError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    message = "The request body must be JSON."


class MethodNotAllowedError(NotaryError):
    code = "METHOD_NOT_ALLOWED"
    status = 405
    message = "This method is not allowed on this resource."


class ForbiddenError(NotaryError):
    code = "FORBIDDEN"
    status = 403
    message = "The caller lacks the role this operation needs."


class SignerUnavailableError(NotaryError):
    code = "SIGNER_UNAVAILABLE"
    status = 503
    message = "The signing service is not available; try again later."


class JobTimeoutError(NotaryError):
    code = "JOB_TIMEOUT"
    status = 504
    message = "The job did not finish in time; poll its Location for the outcome."


class InternalError(NotaryError):
    code = "UNKNOWN"
    status = 500
    message = "unknown error"


class ConfigError(Exception):
    """A configuration problem: one line naming the key and where its value came from."""

    def __init__(self, key: str, source: str, problem: str) -> None:
        self.key = key
        self.source = source
        self.problem = problem
        super().__init__(f"configuration error: {key} (from {source}): {problem}")


def _all_subclasses(base: type[NotaryError]) -> list[type[NotaryError]]:
    found: list[type[NotaryError]] = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


_BY_CODE: dict[str, type[NotaryError]] = {}


def register_codes() -> None:
    """Index every error class by code; call again after defining subclasses in other modules."""
    for error_class in _all_subclasses(NotaryError):  # UNKNOWN is InternalError, not the bare base
        _BY_CODE.setdefault(error_class.code, error_class)


register_codes()
