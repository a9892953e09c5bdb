"""Shared keys, their audit log, and the per-instance access list."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import outbox
from models.base import iso_utc, table_of, utcnow
from models.tables import AccessListEntry, SharedKey, SharedKeyAudit
from notary.errors import NonceMismatchError
from notary.subscriptions import key_stream


@dataclass(frozen=True)
class KeyView:
    """A key's metadata; never the secret."""

    identity: str
    dc: str
    account: str
    region: str
    image: str
    instance_id: str
    roles: tuple[str, ...]
    ttl: int
    created_at: datetime
    expires_at: datetime
    max_expires_at: datetime
    revoked_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "dc": self.dc,
            "instance": self.instance_id,
            "account": self.account,
            "region": self.region,
            "image": self.image,
            "roles": list(self.roles),
            "ttl": self.ttl,
            "created_at": iso_utc(self.created_at),
            "expires_at": iso_utc(self.expires_at),
            "max_expires_at": iso_utc(self.max_expires_at),
            "revoked": self.revoked_at is not None,
            "remaining": max(0, int((self.expires_at - now).total_seconds())),
        }


def view(row: SharedKey) -> KeyView:
    return KeyView(
        identity=row.identity,
        dc=row.dc,
        account=row.account,
        region=row.region,
        image=row.image,
        instance_id=row.instance_id,
        roles=tuple(json.loads(row.roles)),
        ttl=row.ttl,
        created_at=row.created_at,
        expires_at=row.expires_at,
        max_expires_at=row.max_expires_at,
        revoked_at=row.revoked_at,
    )


# Statements built once and run with parameters: building one per call (and coercing each value into it)
# costs more than running it, on the issuance rate's critical path.
_INSERT_AUDIT = insert(table_of(SharedKeyAudit))
_ACCESS_ENTRY = (
    select(AccessListEntry.nonce_sha256, AccessListEntry.pending_time)
    .where(AccessListEntry.instance_id == bindparam("instance"))
    .with_for_update()
)
_INSERT_ACCESS_ENTRY = insert(table_of(AccessListEntry))
_RENEW_ACCESS_ENTRY = (
    update(table_of(AccessListEntry))
    .where(table_of(AccessListEntry).c.instance_id == bindparam("instance"))
    .values(
        pending_time=bindparam("pending_time"),
        last_seen=bindparam("last_seen"),
        expires_at=bindparam("expires_at"),
    )
)


def audit(session: Session, identity: str, event: str, **detail: Any) -> None:
    session.execute(
        _INSERT_AUDIT,
        {"identity": identity, "event": event, "at": utcnow(), "detail": json.dumps(detail, default=str)},
    )


def check_access(
    session: Session,
    *,
    instance_id: str,
    account: str,
    nonce_sha256: str,
    pending_time: datetime,
    retention: int,
) -> None:
    """Vault's access list: the first login of an instance records its nonce; later logins must present the
    same nonce, and the document's pendingTime may never go backwards (a replayed older document)."""
    now = utcnow()
    expires_at = now + timedelta(seconds=retention)
    entry = session.execute(_ACCESS_ENTRY, {"instance": instance_id}).first()
    if entry is None:
        try:
            with session.begin_nested():
                session.execute(
                    _INSERT_ACCESS_ENTRY,
                    {
                        "instance_id": instance_id,
                        "account": account,
                        "nonce_sha256": nonce_sha256,
                        "pending_time": pending_time,
                        "first_seen": now,
                        "last_seen": now,
                        "expires_at": expires_at,
                    },
                )
        except IntegrityError:
            raise NonceMismatchError({"reason": "a concurrent first login of this instance"}) from None
        return
    if not hmac.compare_digest(entry.nonce_sha256, nonce_sha256):
        raise NonceMismatchError({"reason": "nonce"})
    if pending_time < entry.pending_time:
        raise NonceMismatchError({"reason": "pendingTime went backwards"})
    session.execute(
        _RENEW_ACCESS_ENTRY,
        {"instance": instance_id, "pending_time": pending_time, "last_seen": now, "expires_at": expires_at},
    )


def access_entry(session: Session, instance_id: str) -> dict[str, Any] | None:
    """An instance's access-list entry as an operator sees it (the nonce's hash stays in the database)."""
    entry = session.get(AccessListEntry, instance_id)
    if entry is None:
        return None
    return {
        "instance_id": entry.instance_id,
        "account": entry.account,
        "pending_time": iso_utc(entry.pending_time),
        "first_seen": iso_utc(entry.first_seen),
        "last_seen": iso_utc(entry.last_seen),
        "expires_at": iso_utc(entry.expires_at),
    }


def delete_access_entry(session: Session, instance_id: str) -> bool:
    """Forget an instance's first nonce and newest pendingTime, so its next login starts afresh (an
    instance that lost its nonce, e.g. rebuilt from the same image)."""
    deleted = session.execute(delete(AccessListEntry).where(AccessListEntry.instance_id == instance_id))
    return bool(deleted.rowcount)  # type: ignore[attr-defined]


def get_key(session: Session, identity: str) -> SharedKey | None:
    return session.get(SharedKey, identity)


def key_event_data(row: SharedKey) -> dict[str, Any]:
    """What a shared-key event says about the key: never its secret or nonce."""
    return event_data(row.identity, row.dc, json.loads(row.roles), row.expires_at)


def event_data(identity: str, dc: str, roles: list[str], expires_at: datetime) -> dict[str, Any]:
    return {"identity": identity, "dc": dc, "roles": roles, "expires_at": iso_utc(expires_at)}


def record_issued(session: Session, identity: str, dc: str, roles: list[str], expires_at: datetime) -> None:
    outbox.record(session, "key.issued", event_data(identity, dc, roles, expires_at), identity=identity)


def revoke(session: Session, identity: str) -> bool:
    """Revoke a usable key, with its ``key.revoked`` event; False if there is none to revoke."""
    revoked = session.execute(
        update(SharedKey)
        .where(SharedKey.identity == identity, SharedKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if not revoked.rowcount:  # type: ignore[attr-defined]
        return False
    row = session.get(SharedKey, identity)
    assert row is not None
    outbox.record(session, "key.revoked", key_event_data(row), identity=identity)
    return True


def claim_secret_reveal(session: Session, identity: str) -> bool:
    """The one read that may show an asynchronously issued key's secret; False for every later read."""
    claimed = session.execute(
        update(SharedKey)
        .where(SharedKey.identity == identity, SharedKey.secret_revealed_at.is_(None))
        .values(secret_revealed_at=utcnow())
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def sweep(session: Session, now: datetime, grace: timedelta, batch: int) -> tuple[list[str], int]:
    """Delete up to ``batch`` keys expired (or revoked) for longer than ``grace``, and stale access-list
    entries; returns the deleted identities and the number of access-list entries removed."""
    cutoff = now - grace
    doomed = list(
        session.scalars(
            select(SharedKey.identity)
            .where((SharedKey.expires_at < cutoff) | (SharedKey.revoked_at < cutoff))
            .limit(batch)
        )
    )
    if doomed:
        if outbox.wanted(session, "key.expired"):
            expired = select(SharedKey).where(SharedKey.identity.in_(doomed), SharedKey.revoked_at.is_(None))
            for row in session.scalars(expired):
                outbox.record(session, "key.expired", key_event_data(row), identity=row.identity)
        outbox.forget_streams(session, [key_stream(identity) for identity in doomed])
        # Issuance, renewal and revocation are audited one by one; expiry is counted by the sweep instead of
        # writing 100,000 audit rows while verification traffic shares the machine.
        session.execute(delete(SharedKey).where(SharedKey.identity.in_(doomed)))
    # Ids first, then the delete: MySQL/MariaDB refuse LIMIT in an IN subquery of the table deleted from.
    stale = list(
        session.scalars(
            select(AccessListEntry.instance_id).where(AccessListEntry.expires_at < now).limit(batch)
        )
    )
    if stale:
        session.execute(delete(AccessListEntry).where(AccessListEntry.instance_id.in_(stale)))
    return doomed, len(stale)
