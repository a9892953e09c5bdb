"""Datacenter federation (shared-keys.md section 7): the wire contract between an issuing Notary and a
verifying one, and the verifying Notary's own identity towards its peers.

Keys are HMAC secrets, so only a Notary that knows a key's secret can verify a signature made with it, and
only the issuing Notary knows it. The verifying Notary B therefore asks the issuing Notary A for the key,
with a request signed by a key of B's that A can check. That key must be one A issued itself: if A had to
ask B for B's key, B would have to ask A for A's, and so on. So B logs in to A like any instance
(``POST /v1/keys`` with its own EC2 identity, see ``load_login_body``), holds the key A gives it in
memory, and signs its fetches with it. A serves a key only to a key it issued that holds ``FEDERATION_ROLE``.

The served key document (``served_key`` on A, ``parse_served_key`` on B)::

    {"identity": "<encoded>", "secrets": ["<secret>", ...], "roles": [...], "expires_at": "<RFC 3339>",
     "ttl": <seconds left>}
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from notary.errors import ConfigError
from notary.keys.ec2_identity import IdentityRequest, IdentityRequestError
from notary.keys.identity import Identity, InvalidIdentityError, VerificationKey
from notary.settings import Settings

FEDERATION_ROLE: Final = "notary:key-federation"
# The valid:false code for an identity from a datacenter that has no configured peer.
UNKNOWN_DATACENTER: Final = "UNKNOWN_DATACENTER"
SERVED_KEY_PATH: Final = "/v1/federation/keys/"
# A held login key is replaced once less than this share of its lifetime is left, so that a fetch is never
# signed with a key that expires on its way to the peer.
RENEW_WHEN_LEFT: Final = 0.2


class PeerAnswerError(ValueError):
    """A peer's answer that is not the contract's: never taken as a key."""


# A verifier sees the same few identities again and again, and decoding one is a good part of a verify.
@functools.lru_cache(maxsize=4096)
@functools.lru_cache(maxsize=65536)  # asked for every verification; decoding costs more than the lookup
def issuing_dc(identity: str) -> str | None:
    """The datacenter that issued ``identity``, or None for text that is not one of our identities."""
    try:
        return Identity.decode(identity).dc
    except InvalidIdentityError:
        return None


def load_login_body(settings: Settings) -> dict[str, str] | None:
    """The ``POST /v1/keys`` body this Notary sends to its peers (its own Warden body and nonce), or None
    when no federation identity is configured. Raises ConfigError when it could never be accepted.

    The same document and nonce log in again and again: the peer's access list accepts a repeated
    pendingTime, and every API process presents the same nonce, so none of them locks the others out.
    """
    nonce = settings["keys.federation.nonce"]
    if nonce is None:
        return None
    files = {"document": "keys.federation.document_file", "signature": "keys.federation.signature_file"}
    body = {"nonce": nonce}
    for member, key in files.items():
        path = settings.path(key)
        assert path is not None  # settings require the whole identity or none of it
        try:
            body[member] = path.read_bytes().decode("utf-8")  # byte for byte: no newline translation
        except (OSError, UnicodeDecodeError) as failure:
            raise ConfigError(key, settings.source(key), f"cannot read {path}: {failure}") from None
    try:
        IdentityRequest.from_json(body)
    except IdentityRequestError as bad:
        source = settings.source("keys.federation.signature_file")
        raise ConfigError("keys.federation", source, str(bad)) from None
    return body


def served_key(
    identity: str, secrets: Sequence[str], roles: Sequence[str], expires_at: datetime, now: datetime
) -> dict[str, Any]:
    """The issuing side's answer for one usable key of its own."""
    return {
        "identity": identity,
        "secrets": list(secrets),
        "roles": list(roles),
        "expires_at": expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ttl": max(0, int((expires_at - now).total_seconds())),
    }


def _strings(value: object, what: str, *, allow_empty: bool) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not all(isinstance(item, str) and item for item in value)
        or (not value and not allow_empty)
    ):
        raise PeerAnswerError(f"{what} must be a list of non-empty strings")
    return tuple(value)


def _expiry(document: Mapping[str, Any]) -> datetime:
    expires_at = document.get("expires_at")
    try:
        if not isinstance(expires_at, str):
            raise ValueError
        expiry = datetime.fromisoformat(expires_at)
    except ValueError:
        raise PeerAnswerError("expires_at must be an RFC 3339 time") from None
    if expiry.tzinfo is None:
        raise PeerAnswerError("expires_at must carry its offset")
    return expiry.astimezone(UTC)


def parse_served_key(document: object, identity: str) -> VerificationKey:
    """Read a peer's answer for ``identity`` strictly; raises PeerAnswerError for anything else, so that a
    confused or hostile answer can never make a request verify."""
    if not isinstance(document, Mapping):
        raise PeerAnswerError("the answer is not a JSON object")
    if document.get("identity") != identity:
        raise PeerAnswerError("the answer is for another identity")
    return VerificationKey(
        identity=identity,
        secrets=_strings(document.get("secrets"), "secrets", allow_empty=False),
        roles=_strings(document.get("roles"), "roles", allow_empty=True),
        expires_at=_expiry(document),
    )


@dataclass(frozen=True)
class LoginKey:
    """The key a peer issued to this Notary, to sign fetches from that peer with."""

    identity: str
    secret: str = field(repr=False)
    expires_at: datetime
    lifetime: timedelta

    def due_for_renewal(self, now: datetime) -> bool:
        """Whether to log in again before the next fetch."""
        return now >= self.expires_at - self.lifetime * RENEW_WHEN_LEFT


def parse_login(document: object, now: datetime) -> LoginKey:
    """Read a peer's ``201`` answer to ``login_body``; raises PeerAnswerError."""
    if not isinstance(document, Mapping):
        raise PeerAnswerError("the answer is not a JSON object")
    identity, secret = document.get("identity"), document.get("secret")
    if not isinstance(identity, str) or issuing_dc(identity) is None:
        raise PeerAnswerError("the answer has no identity")
    if not isinstance(secret, str) or not secret:
        raise PeerAnswerError("the answer has no secret")
    expires_at = _expiry(document)
    return LoginKey(identity, secret, expires_at, expires_at - now)
