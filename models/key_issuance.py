"""Issuing a shared key in the caller's transaction: the access-list check, the new key with its secret
sealed, the audit record and the ``key.issued`` event, all committed together or not at all.

Two callers: the API for a synchronous issuance (it answers with the secret itself), and the ``keys.issue``
job for an asynchronous one (the secret then waits, sealed, for the one reader allowed to see it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import shared_keys as store
from models.base import iso_utc, table_of, utcnow
from models.tables import SharedKey
from notary.errors import KeysDisabledError
from notary.keys.identity import new_identity, new_secret
from notary.keys.politician import IdentityTuple
from notary.sealing import seal, shared_key_aad
from notary.settings import Settings

log = logging.getLogger("notary.keys")
_INSERT_KEY = insert(table_of(SharedKey))  # built once, run with parameters (see models/shared_keys.py)


@dataclass(frozen=True)
class IssuePolicy:
    dc: str
    ttl: int
    max_ttl: int
    access_list_retention: int
    keks: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> IssuePolicy:
        return cls(
            dc=settings["keys.dc"],
            ttl=settings["keys.ttl"],
            max_ttl=settings["keys.max_ttl"],
            access_list_retention=settings["keys.access_list_retention"],
            keks=settings["keys.keks"],
        )


@dataclass(frozen=True)
class Login:
    """What an issuance takes from a verified instance identity document and its request."""

    account: str
    region: str
    image: str
    instance: str
    pending_time: datetime
    nonce_sha256: str | None  # of the client's nonce; None: the client gave none, one is made for it

    @property
    def identity_tuple(self) -> IdentityTuple:
        return IdentityTuple(
            account=self.account, region=self.region, image=self.image, instance=self.instance
        )

    def to_params(self) -> dict[str, Any]:
        """The job parameters of an asynchronous issuance (no secret: the nonce only as its hash)."""
        return {
            "account": self.account,
            "region": self.region,
            "image": self.image,
            "instance": self.instance,
            "pending_time": self.pending_time.isoformat(),
            "nonce_sha256": self.nonce_sha256,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Login:
        return cls(
            account=params["account"],
            region=params["region"],
            image=params["image"],
            instance=params["instance"],
            pending_time=datetime.fromisoformat(params["pending_time"]),
            nonce_sha256=params.get("nonce_sha256"),
        )


@dataclass(frozen=True)
class IssuedKey:
    identity: str
    roles: tuple[str, ...]
    ttl: int
    expires_at: datetime
    # Out of the repr, so that no traceback or error report that shows locals can print them.
    secret: str = field(repr=False)
    nonce: str | None = field(repr=False)  # made here as the client gave none; shown once

    def public(self) -> dict[str, Any]:
        """The key as a job result may hold it: no secret, no nonce."""
        return {
            "identity": self.identity,
            "roles": list(self.roles),
            "ttl": self.ttl,
            "expires_at": iso_utc(self.expires_at),
        }

    def revealed(self) -> dict[str, Any]:
        """The key as its requester receives it, once."""
        body = {**self.public(), "secret": self.secret}
        if self.nonce is not None:
            body["nonce"] = self.nonce
        return body


def issue_key(
    session: Session, policy: IssuePolicy, login: Login, roles: tuple[str, ...], *, answered_now: bool
) -> IssuedKey:
    """Issue a key to ``login``'s instance with ``roles`` (looked up before this transaction opened).

    ``answered_now``: the caller hands the secret to the client itself, so no later read may; otherwise the
    secret (and a nonce made here) stay sealed for the one read ``claim_secret_reveal`` allows."""
    if not policy.keks:
        raise KeysDisabledError()
    nonce = None
    nonce_sha256 = login.nonce_sha256
    if nonce_sha256 is None:
        nonce = secrets.token_urlsafe(32)
        nonce_sha256 = hashlib.sha256(nonce.encode()).hexdigest()
    store.check_access(
        session,
        instance_id=login.instance,
        account=login.account,
        nonce_sha256=nonce_sha256,
        pending_time=login.pending_time,
        retention=policy.access_list_retention,
    )
    identity = new_identity(policy.dc).encode()
    secret = new_secret()
    aad = shared_key_aad(identity)
    kek_id, secret_sealed = seal(policy.keks, secret.encode(), aad)
    now = utcnow()
    expires_at = now + timedelta(seconds=policy.ttl)
    session.execute(
        _INSERT_KEY,
        {
            "identity": identity,
            "dc": policy.dc,
            "account": login.account,
            "region": login.region,
            "image": login.image,
            "instance_id": login.instance,
            "roles": json.dumps(list(roles)),
            "secret_sealed": secret_sealed,
            "nonce_sealed": None
            if nonce is None or answered_now
            else seal(policy.keks, nonce.encode(), aad)[1],
            "kek_id": kek_id,
            "ttl": policy.ttl,
            "created_at": now,
            "expires_at": expires_at,
            "max_expires_at": now + timedelta(seconds=policy.max_ttl),
            "secret_revealed_at": now if answered_now else None,
            "revoked_at": None,
        },
    )
    store.record_issued(session, identity, policy.dc, list(roles), expires_at)
    store.audit(
        session, identity, "issued", instance=login.instance, roles=list(roles), expires_at=expires_at
    )
    log.info("issued a key", extra={"identity": identity, "instance": login.instance, "roles": list(roles)})
    return IssuedKey(identity, roles, policy.ttl, expires_at, secret, nonce)
