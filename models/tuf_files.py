"""Stored TUF metadata and the changefeed.

"Current" follows notary's consistent walk: the newest timestamp names a snapshot by hash, and the snapshot
names every other role's file by hash. So readers never see a targets file newer than the snapshot that
vouches for it. Writes are atomic per update: every file, with a strictly increasing version per
(gun, role), and one changefeed row for the new timestamp, in the caller's transaction, with its
``repository.updated`` (or ``repository.deleted``) event in the outbox.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import outbox
from models.base import utcnow
from models.tables import ChangefeedEntry, TufFile
from notary.errors import VersionError


@dataclass(frozen=True)
class StoredFile:
    gun: str
    role: str
    version: int
    data: bytes
    sha256: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewFile:
    role: str
    version: int
    data: bytes
    sha256: str
    expires_at: datetime | None


def _stored(row: TufFile) -> StoredFile:
    return StoredFile(row.gun, row.role, row.version, row.data, row.sha256, row.created_at, row.updated_at)


def _meta_sha256_hex(document: bytes, role: str) -> str | None:
    """The hex sha256 that a timestamp or snapshot file records for ``role``, if any."""
    try:
        encoded = json.loads(document)["signed"]["meta"][role]["hashes"]["sha256"]
        return base64.b64decode(encoded, validate=True).hex()
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


class SqlTufStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, gun: str, role: str) -> StoredFile | None:
        query = (
            select(TufFile)
            .where(TufFile.gun == gun, TufFile.role == role)
            .order_by(TufFile.version.desc())
            .limit(1)
        )
        row = self.session.scalars(query).first()
        return None if row is None else _stored(row)

    def by_checksum(self, gun: str, role: str, sha256: str) -> StoredFile | None:
        query = select(TufFile).where(
            TufFile.gun == gun, TufFile.role == role, TufFile.sha256 == sha256.lower()
        )
        row = self.session.scalars(query.limit(1)).first()
        return None if row is None else _stored(row)

    def by_version(self, gun: str, role: str, version: int) -> StoredFile | None:
        query = select(TufFile).where(TufFile.gun == gun, TufFile.role == role, TufFile.version == version)
        row = self.session.scalars(query).first()
        return None if row is None else _stored(row)

    def current(self, gun: str, role: str) -> StoredFile | None:
        timestamp = self.latest(gun, "timestamp")
        if timestamp is None:
            return None
        if role == "timestamp":
            return timestamp
        snapshot_hash = _meta_sha256_hex(timestamp.data, "snapshot")
        snapshot = None if snapshot_hash is None else self.by_checksum(gun, "snapshot", snapshot_hash)
        if snapshot is None or role == "snapshot":
            return snapshot
        role_hash = _meta_sha256_hex(snapshot.data, role)
        # A role the snapshot does not list does not exist (notary's SQL store answers 500 here).
        return None if role_hash is None else self.by_checksum(gun, role, role_hash)

    def max_versions(self, gun: str) -> dict[str, int]:
        query = (
            select(TufFile.role, func.max(TufFile.version)).where(TufFile.gun == gun).group_by(TufFile.role)
        )
        return {role: version for role, version in self.session.execute(query)}

    def store_update(self, gun: str, files: Sequence[NewFile]) -> None:
        """Add every file of one update; VersionError unless each version beats all stored ones."""
        seen: set[tuple[str, int]] = set()
        newest = self.max_versions(gun)
        for file in files:
            if (file.role, file.version) in seen or file.version <= newest.get(file.role, 0):
                raise VersionError({})
            seen.add((file.role, file.version))
        now = utcnow()
        change: ChangefeedEntry | None = None
        try:
            with self.session.begin_nested():
                for file in files:
                    self.session.add(
                        TufFile(
                            gun=gun,
                            role=file.role,
                            version=file.version,
                            data=file.data,
                            sha256=file.sha256,
                            expires_at=file.expires_at,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    if file.role == "timestamp":
                        change = ChangefeedEntry(
                            gun=gun,
                            version=file.version,
                            sha256=file.sha256,
                            category="update",
                            created_at=now,
                        )
                        self.session.add(change)
        except IntegrityError:
            # A concurrent update stored one of these versions first; the unique constraint decided.
            raise VersionError({}) from None
        if change is not None:
            versions = {**newest, **{file.role: file.version for file in files}}
            outbox.record(
                self.session,
                "repository.updated",
                {
                    "gun": gun,
                    "changefeed_id": change.id,
                    "timestamp": {"version": change.version, "sha256": change.sha256},
                    "root_version": versions.get("root"),
                    "published": {file.role: file.version for file in files},
                },
                gun=gun,
            )

    def delete_gun(self, gun: str) -> int:
        """Delete every file of exactly this GUN (never a prefix); one changefeed row if anything went."""
        deleted = self.session.execute(delete(TufFile).where(TufFile.gun == gun)).rowcount  # type: ignore[attr-defined]
        if deleted:
            change = ChangefeedEntry(gun=gun, version=0, sha256="", category="deletion", created_at=utcnow())
            self.session.add(change)
            self.session.flush()
            outbox.record(
                self.session, "repository.deleted", {"gun": gun, "changefeed_id": change.id}, gun=gun
            )
        return int(deleted)

    def changefeed(self, gun: str | None, change_id: int, records: int) -> list[ChangefeedEntry]:
        """As notary's GetChanges: ``records`` entries after ``change_id`` (exclusive); backwards (before it)
        when ``records`` < 0 or ``change_id`` < 0, where a ``change_id`` <= 0 starts from the newest.
        Always returned oldest first."""
        query = select(ChangefeedEntry)
        if gun is not None:
            query = query.where(ChangefeedEntry.gun == gun)
        backwards = records < 0 or change_id < 0
        if backwards and change_id > 0:
            query = query.where(ChangefeedEntry.id < change_id)
        elif not backwards:
            query = query.where(ChangefeedEntry.id > change_id)
        order = ChangefeedEntry.id.desc() if backwards else ChangefeedEntry.id.asc()
        rows = list(self.session.scalars(query.order_by(order).limit(abs(records))))
        return rows[::-1] if backwards else rows

    def expiring_timestamps(self, before: datetime, limit: int) -> list[str]:
        """GUNs whose newest timestamp expires before ``before``, soonest first."""
        newest = (
            select(TufFile.gun, func.max(TufFile.version).label("version"))
            .where(TufFile.role == "timestamp")
            .group_by(TufFile.gun)
            .subquery()
        )
        query = (
            select(TufFile.gun)
            .join(newest, (TufFile.gun == newest.c.gun) & (TufFile.version == newest.c.version))
            .where(TufFile.role == "timestamp", TufFile.expires_at < before)
            .order_by(TufFile.expires_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))
