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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import outbox
from models.base import utcnow
from models.tables import ChangefeedEntry, Job, TufFile
from notary.errors import VersionError
from notary.jobs import JobState


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


def _advances(files: Sequence[NewFile], newest: Mapping[str, int]) -> bool:
    """Every version beats the stored ones, none repeats, and the update's one timestamp directly follows
    the stored one. That last rule is the compare-and-swap that refuses an update planned against a
    repository that has changed or been deleted since: without it, an update planned before a DELETE would
    land on the empty GUN with high versions and block its re-creation from version 1."""
    seen = {(file.role, file.version) for file in files}
    timestamps = [file.version for file in files if file.role == "timestamp"]
    return (
        len(seen) == len(files)
        and timestamps == [newest.get("timestamp", 0) + 1]
        and all(file.version > newest.get(file.role, 0) for file in files)
    )


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

    def _max_versions(self, guns: Sequence[str]) -> dict[str, dict[str, int]]:
        query = (
            select(TufFile.gun, TufFile.role, func.max(TufFile.version))
            .where(TufFile.gun.in_(guns))
            .group_by(TufFile.gun, TufFile.role)
        )
        newest: dict[str, dict[str, int]] = {}
        for gun, role, version in self.session.execute(query):
            newest.setdefault(gun, {})[role] = version
        return newest

    def store_update(self, gun: str, files: Sequence[NewFile]) -> None:
        """Add every file of one update; VersionError unless each version beats all stored ones."""
        refused = self.store_updates({gun: files})
        if gun in refused:
            raise refused[gun]

    def store_updates(self, updates: Mapping[str, Sequence[NewFile]]) -> dict[str, VersionError]:
        """Store the updates of several GUNs, each atomically and on its own; returns the refused ones. An
        update is refused (and stores nothing) unless each of its versions beats all stored ones and no
        (role, version) repeats in it. One version query and one insert serve every GUN; only when a
        concurrent writer stores a version first does each GUN get its own savepoint."""
        newest = self._max_versions(list(updates))
        refused = {
            gun: VersionError({})
            for gun, files in updates.items()
            if not _advances(files, newest.get(gun, {}))
        }
        accepted = {gun: files for gun, files in updates.items() if gun not in refused}
        try:
            with self.session.begin_nested():
                self._insert(accepted)
        except IntegrityError:
            for gun, files in accepted.items():
                try:
                    with self.session.begin_nested():
                        self._insert({gun: files})
                except IntegrityError:
                    # A concurrent update stored one of these versions first; the unique constraint decided.
                    refused[gun] = VersionError({})
        self._record_updated({gun: files for gun, files in accepted.items() if gun not in refused}, newest)
        return refused

    def _record_updated(
        self, stored: Mapping[str, Sequence[NewFile]], before: Mapping[str, Mapping[str, int]]
    ) -> None:
        """A ``repository.updated`` event per stored update, in its transaction (see models/outbox.py)."""
        if not stored:
            return
        timestamps = {
            gun: file.version for gun, files in stored.items() for file in files if file.role == "timestamp"
        }
        new_changes = or_(
            *(
                (ChangefeedEntry.gun == gun) & (ChangefeedEntry.version == version)
                for gun, version in timestamps.items()
            )
        )
        changes = self.session.execute(
            select(ChangefeedEntry.gun, ChangefeedEntry.id, ChangefeedEntry.version, ChangefeedEntry.sha256)
            .where(ChangefeedEntry.category == "update", new_changes)
            .order_by(ChangefeedEntry.id)
        )
        for gun, change_id, version, sha256 in changes:
            published = {file.role: file.version for file in stored[gun]}
            outbox.record(
                self.session,
                "repository.updated",
                {
                    "gun": gun,
                    "changefeed_id": change_id,
                    "timestamp": {"version": version, "sha256": sha256},
                    "root_version": {**before.get(gun, {}), **published}.get("root"),
                    "published": published,
                },
                gun=gun,
            )

    def _insert(self, updates: Mapping[str, Sequence[NewFile]]) -> None:
        now = utcnow()
        rows = [
            {
                "gun": gun,
                "role": file.role,
                "version": file.version,
                "data": file.data,
                "sha256": file.sha256,
                "expires_at": file.expires_at,
                "created_at": now,
                "updated_at": now,
            }
            for gun, files in updates.items()
            for file in files
        ]
        changes = [
            {
                "gun": row["gun"],
                "version": row["version"],
                "sha256": row["sha256"],
                "category": "update",
                "created_at": now,
            }
            for row in rows
            if row["role"] == "timestamp"
        ]
        if rows:
            self.session.execute(insert(TufFile), rows)
        if changes:
            self.session.execute(insert(ChangefeedEntry), changes)

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

    def expiring_timestamps(self, before: datetime, limit: int, refresh_kind: str) -> list[str]:
        """GUNs whose newest timestamp expires before ``before``, soonest first, leaving out those with a
        ``refresh_kind`` job under way or failed since that timestamp was stored: a repository that cannot
        be refreshed (its client-held snapshot has expired) would otherwise fill every batch for ever."""
        newest = (
            select(TufFile.gun, func.max(TufFile.version).label("version"))
            .where(TufFile.role == "timestamp")
            .group_by(TufFile.gun)
            .subquery()
        )
        refresh_pending_or_failed = (
            select(Job.id)
            .where(
                Job.kind == refresh_kind,
                Job.gun == TufFile.gun,
                or_(
                    Job.state.in_([JobState.QUEUED.value, JobState.RUNNING.value]),
                    (Job.state == JobState.FAILED.value) & (Job.created_at >= TufFile.created_at),
                ),
            )
            .exists()
        )
        query = (
            select(TufFile.gun)
            .join(newest, (TufFile.gun == newest.c.gun) & (TufFile.version == newest.c.version))
            .where(TufFile.role == "timestamp", TufFile.expires_at < before, ~refresh_pending_or_failed)
            .order_by(TufFile.expires_at)
            .limit(limit)
        )
        return list(self.session.scalars(query))
