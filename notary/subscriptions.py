"""Change notifications: which events exist, what a subscription asks for, and which events it receives.

Events with a GUN (repository and server-key events, and jobs about a repository) pass a subscription's
``gun_prefix`` filter when the GUN starts with it. Shared-key events and jobs without a GUN have no GUN to
match, so a subscription with a prefix never receives them; asking for both is refused as a mistake rather
than accepted as a subscription that silently never fires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from notary.errors import InvalidRequestError, UnknownEventError
from notary.jobs import validate_callback_url
from notary.sealing import associated_data

REPOSITORY_EVENTS = ("repository.updated", "repository.deleted", "key.rotated")
SHARED_KEY_EVENTS = ("key.issued", "key.revoked", "key.expired")
EVENT_TYPES = (*REPOSITORY_EVENTS, "job.finished", *SHARED_KEY_EVENTS)
MAX_GUN_PREFIX = 255


@dataclass(frozen=True)
class SubscriptionRequest:
    url: str
    events: tuple[str, ...]
    gun_prefix: str | None


def parse_request(document: Any) -> SubscriptionRequest:
    """A ``POST /v1/subscriptions`` body, checked; InvalidRequestError (or UnknownEventError) otherwise."""
    if not isinstance(document, dict):
        raise InvalidRequestError("the body must be a JSON object")
    unknown_fields = set(document) - {"url", "events", "gun_prefix"}
    if unknown_fields:
        raise InvalidRequestError({"unknown_fields": sorted(unknown_fields)[:10]})
    url = validate_callback_url(document.get("url"), "url")
    events = document.get("events")
    if not isinstance(events, list) or not events or not all(isinstance(name, str) for name in events):
        raise InvalidRequestError("events must be a non-empty list of event names")
    unknown = sorted({name for name in events if name not in EVENT_TYPES})
    if unknown:
        raise UnknownEventError({"unknown": [name[:64] for name in unknown[:10]], "known": list(EVENT_TYPES)})
    gun_prefix = document.get("gun_prefix")
    if gun_prefix is not None:
        if not isinstance(gun_prefix, str) or not 0 < len(gun_prefix) <= MAX_GUN_PREFIX:
            raise InvalidRequestError(f"gun_prefix must be a string of 1 to {MAX_GUN_PREFIX} characters")
        without_gun = sorted(set(events) & set(SHARED_KEY_EVENTS))
        if without_gun:
            raise InvalidRequestError(
                {
                    "reason": "shared-key events carry no GUN, so a gun_prefix would exclude them all",
                    "events": without_gun,
                }
            )
    ordered = tuple(name for name in EVENT_TYPES if name in events)  # known order, no duplicates
    return SubscriptionRequest(url=url, events=ordered, gun_prefix=gun_prefix)


def matches(events: tuple[str, ...], gun_prefix: str | None, event_type: str, gun: str | None) -> bool:
    """Whether a subscription for ``events`` (and ``gun_prefix``) receives this event."""
    if event_type not in events:
        return False
    return gun_prefix is None or (gun is not None and gun.startswith(gun_prefix))


# Job kinds whose result describes a shared key: a job.finished event never carries it.
_RESULT_WITHHELD_PREFIX = "keys."


def job_event_data(
    job_id: str, kind: str, state: str, gun: str | None, result: Any, error: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``job.finished`` payload: the job's outcome, without the result of shared-key jobs."""
    data: dict[str, Any] = {"id": job_id, "kind": kind, "state": state}
    if gun is not None:
        data["gun"] = gun
    if error is not None:
        data["error"] = {"code": error.get("code"), "message": error.get("message")}
    elif not kind.startswith(_RESULT_WITHHELD_PREFIX):
        data["result"] = result
    return data


def stream_of(gun: str | None, identity: str | None) -> str | None:
    """The ordering stream of an event: per GUN, or per shared key; None for events with neither."""
    if gun is not None:
        return "gun:" + gun
    if identity is not None:
        return key_stream(identity)
    return None


def key_stream(identity: str) -> str:
    return "key:" + identity


def secret_sealing_keys(webhooks_secret: str) -> tuple[tuple[str, bytes], ...]:
    """The key that seals subscription secrets at rest, derived from ``webhooks.secret`` (so a database dump
    alone does not reveal them); its id is a fingerprint, so a changed ``webhooks.secret`` is recognised."""
    material = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"notary subscription secrets"
    ).derive(webhooks_secret.encode())
    return ((hashlib.sha256(material).hexdigest()[:16], material),)


def secret_aad(subscription_id: str) -> bytes:
    """A sealed secret opens only for the subscription it was made for."""
    return associated_data("subscription", subscription_id)
