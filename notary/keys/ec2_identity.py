"""EC2 instance identity: the request body of ``POST /v1/keys``, the signed identity document, allow-lists.

Two body shapes are accepted (see ``shared-keys.md`` section 2):

* Warden/tokend: ``{"document": "<the exact JSON text>", "signature": "<pkcs7 PEM or bare base64>"}``;
* Vault ``ec2``: ``{"pkcs7": "<base64>"}``: the document is the PKCS7's content;

each with an optional ``"nonce"`` (1 to 128 printable ASCII characters). Other members (Vault sends
``role``) are ignored; a body with members of both shapes is ambiguous and rejected.

:func:`verify_identity` checks the PKCS7 against the pinned AWS certificates
(:func:`notary.keys.pkcs7.verify_signed_data`) and parses the signed bytes, never the unsigned ``document``
text on its own. Replay protection (nonce, ``pendingTime``) is the caller's: this module only parses them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Final

from cryptography import x509

from notary.keys.pkcs7 import PKCS7Error, VerifiedContent, load_pkcs7, verify_signed_data

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "REGION_PATTERN",
    "AllowLists",
    "IdentityDocumentError",
    "IdentityRequest",
    "IdentityRequestError",
    "InstanceIdentity",
    "NotAllowedError",
    "check_allowed",
    "parse_document",
    "verify_identity",
]

# A real document is about 450 bytes (newer ones, with marketplace codes, under 1 KiB).
MAX_DOCUMENT_BYTES: Final = 16 * 1024

# Every AWS region: <area>[-<partition/country qualifier>]-<direction>-<n>, e.g. us-east-1, us-gov-west-1,
# cn-north-1, us-iso-east-1, us-isob-east-1, eu-isoe-west-1, eusc-de-east-1, ap-southeast-7, il-central-1.
REGION_PATTERN: Final = re.compile(r"\A[a-z]{2,4}(?:-[a-z]{2,10}){1,2}-[1-9][0-9]?\Z")
ACCOUNT_PATTERN: Final = re.compile(r"\A[0-9]{12}\Z")
IMAGE_PATTERN: Final = re.compile(r"\Aami-[0-9a-f]{8,17}\Z")
INSTANCE_PATTERN: Final = re.compile(r"\Ai-[0-9a-f]{8,17}\Z")
NONCE_PATTERN: Final = re.compile(r"\A[\x20-\x7e]{1,128}\Z")
_TIMESTAMP: Final = re.compile(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})\Z"
)


class IdentityDocumentError(ValueError):
    """The signed identity document is not a usable instance identity document."""


class IdentityRequestError(ValueError):
    """The request body is malformed (a ``400 INVALID_REQUEST``)."""


class NotAllowedError(ValueError):
    """The instance is not allowed by the configured allow-lists (a ``403 NOT_ALLOWED``).

    ``check`` is ``"account"``, ``"region"`` or ``"image"``."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class InstanceIdentity:
    """The fields of the instance identity document that the service uses."""

    account_id: str
    region: str
    image_id: str
    instance_id: str
    pending_time: datetime
    availability_zone: str | None = None
    instance_type: str | None = None
    architecture: str | None = None
    private_ip: str | None = None


def parse_document(content: bytes) -> InstanceIdentity:
    """Parse the (signed) identity document: a strict JSON object in UTF-8 (no duplicate members, no
    ``NaN``), with ``accountId``, ``region``, ``imageId``, ``instanceId`` and ``pendingTime`` well-formed.
    Raises :class:`IdentityDocumentError`."""
    if not isinstance(content, bytes):
        raise IdentityDocumentError("the identity document must be bytes")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise IdentityDocumentError("the identity document is too large")
    try:
        text = content.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_unique_members, parse_constant=_reject_constant)
    except IdentityDocumentError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise IdentityDocumentError("the identity document is not valid JSON") from None
    if not isinstance(document, dict):
        raise IdentityDocumentError("the identity document is not a JSON object")

    account_id = _required(document, "accountId", ACCOUNT_PATTERN)
    region = _required(document, "region", REGION_PATTERN)
    image_id = _required(document, "imageId", IMAGE_PATTERN)
    instance_id = _required(document, "instanceId", INSTANCE_PATTERN)
    pending_time = _timestamp(_required(document, "pendingTime", _TIMESTAMP), "pendingTime")
    return InstanceIdentity(
        account_id=account_id,
        region=region,
        image_id=image_id,
        instance_id=instance_id,
        pending_time=pending_time,
        availability_zone=_optional(document, "availabilityZone"),
        instance_type=_optional(document, "instanceType"),
        architecture=_optional(document, "architecture"),
        private_ip=_optional(document, "privateIp"),
    )


@dataclass(frozen=True)
class IdentityRequest:
    """An issuing request body: the PKCS7 (DER/BER), the document text if the client sent one (Warden shape;
    ``None`` in the Vault shape), and the client's nonce."""

    pkcs7_der: bytes
    document: bytes | None = None
    nonce: str | None = None

    @classmethod
    def from_json(cls, body: object) -> IdentityRequest:
        """Read either body shape from the parsed JSON ``body``. Raises :class:`IdentityRequestError`."""
        if not isinstance(body, Mapping):
            raise IdentityRequestError("the request body must be a JSON object")
        nonce = _nonce(body.get("nonce"))
        has_vault = "pkcs7" in body
        has_warden = "document" in body or "signature" in body
        if has_vault and has_warden:
            raise IdentityRequestError("send either pkcs7, or document and signature, not both")
        if has_vault:
            return cls(pkcs7_der=_pkcs7(body, "pkcs7"), document=None, nonce=nonce)
        if not has_warden:
            raise IdentityRequestError("the request needs pkcs7, or document and signature")
        document = body.get("document")
        if document is None:
            raise IdentityRequestError("document is required with signature")
        if not isinstance(document, str) or not document:
            raise IdentityRequestError("document must be a non-empty string")
        try:
            document_bytes = document.encode("utf-8")
        except UnicodeEncodeError:
            raise IdentityRequestError("document is not valid Unicode") from None
        if len(document_bytes) > MAX_DOCUMENT_BYTES:
            raise IdentityRequestError("document is too large")
        return cls(pkcs7_der=_pkcs7(body, "signature"), document=document_bytes, nonce=nonce)


def verify_identity(
    request: IdentityRequest, pinned: Sequence[x509.Certificate]
) -> tuple[InstanceIdentity, VerifiedContent]:
    """Verify the request's PKCS7 against the pinned certificates (and, in the Warden shape, that the
    document is exactly the signed content), then parse the signed document.

    Raises :class:`notary.keys.pkcs7.PKCS7Error` (does not verify) or :class:`IdentityDocumentError` (signed,
    but not a usable document)."""
    verified = verify_signed_data(request.pkcs7_der, pinned, document=request.document)
    return parse_document(verified.content), verified


@dataclass(frozen=True)
class AllowLists:
    """Optional allow-lists from configuration; an empty one allows everything. ``regions`` are
    :mod:`fnmatch` patterns (``us-*``), matched case-sensitively; accounts and images are exact."""

    accounts: frozenset[str] = frozenset()
    regions: tuple[str, ...] = ()
    images: frozenset[str] = frozenset()


def check_allowed(identity: InstanceIdentity, allow: AllowLists) -> None:
    """Raise :class:`NotAllowedError` naming the first check (account, region, image) that fails."""
    if allow.accounts and identity.account_id not in allow.accounts:
        raise NotAllowedError("account", f"account {identity.account_id} is not allowed")
    if allow.regions and not any(fnmatchcase(identity.region, pattern) for pattern in allow.regions):
        raise NotAllowedError("region", f"region {identity.region} is not allowed")
    if allow.images and identity.image_id not in allow.images:
        raise NotAllowedError("image", f"image {identity.image_id} is not allowed")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise IdentityDocumentError("the identity document repeats a member")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise IdentityDocumentError("the identity document contains NaN or Infinity")


def _required(document: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = document.get(name)
    if value is None:
        raise IdentityDocumentError(f"the identity document has no {name}")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise IdentityDocumentError(f"the identity document's {name} is malformed")
    return value


def _optional(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise IdentityDocumentError(f"the identity document's {name} is not a string")
    return value


def _timestamp(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise IdentityDocumentError(f"the identity document's {name} is malformed") from None
    if parsed.tzinfo is None:
        raise IdentityDocumentError(f"the identity document's {name} has no time zone")
    return parsed.astimezone(UTC)


def _nonce(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not NONCE_PATTERN.fullmatch(value):
        raise IdentityRequestError("nonce must be 1 to 128 printable ASCII characters")
    return value


def _pkcs7(body: Mapping[str, object], name: str) -> bytes:
    value = body.get(name)
    if value is None:
        raise IdentityRequestError(f"{name} is required")
    if not isinstance(value, str):
        raise IdentityRequestError(f"{name} must be a string")
    try:
        return load_pkcs7(value)
    except PKCS7Error as error:
        raise IdentityRequestError(f"{name}: {error}") from None
