"""The SQL implementation of ``notary.ports.ServerKeyStore``, bound to one session (one transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.tables import ServerKey
from notary.ports import SealedKey, StoredKey
from notary.tuf.keys import PublicKey


def to_stored(row: ServerKey) -> StoredKey:
    return StoredKey(
        gun=row.gun,
        role=row.role,
        public_key=PublicKey(row.keytype, row.public),
        algorithm=row.algorithm,
        status=row.status,
        created_at=row.created_at,
    )


class SqlServerKeyStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _rows(self, gun: str, role: str, status: str) -> ServerKey | None:
        query = (
            select(ServerKey)
            .where(ServerKey.gun == gun, ServerKey.role == role, ServerKey.status == status)
            .order_by(ServerKey.id.desc())
            .limit(1)
        )
        return self.session.scalars(query).first()

    def current(self, gun: str, role: str) -> StoredKey | None:
        row = self._rows(gun, role, "active") or self._rows(gun, role, "pending")
        return None if row is None else to_stored(row)

    def pending(self, gun: str, role: str) -> StoredKey | None:
        row = self._rows(gun, role, "pending")
        return None if row is None else to_stored(row)

    def add_pending(self, gun: str, role: str, key: SealedKey) -> StoredKey:
        row = ServerKey(
            key_id=key.public_key.key_id,
            gun=gun,
            role=role,
            algorithm=key.algorithm,
            keytype=key.public_key.keytype,
            public=key.public_key.public,
            private_sealed=key.sealed_private,
            kek_id=key.kek_id,
            status="pending",
            pending_slot=1,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            # Another request created the pending key first; unique (gun, role, pending_slot) kept it single.
            winner = self._rows(gun, role, "pending")
            if winner is None:
                raise
            return to_stored(winner)
        return to_stored(row)

    def retire_pending(self, gun: str, role: str) -> None:
        self.session.execute(
            update(ServerKey)
            .where(ServerKey.gun == gun, ServerKey.role == role, ServerKey.status == "pending")
            .values(status="superseded", pending_slot=None)
        )

    def sealed_private(self, key_id: str) -> ServerKey | None:
        """The row with the sealed private half; only the signer can open it."""
        return self.session.scalars(select(ServerKey).where(ServerKey.key_id == key_id)).first()


@dataclass(frozen=True)
class SealedRow:
    """What re-wrapping needs of a row: its id, what binds it (key id, GUN, role) and how it is sealed."""

    id: int
    key_id: str
    gun: str
    role: str
    kek_id: str
    private_sealed: bytes


def sealed_elsewhere(session: Session, kek_id: str, after_id: int, limit: int) -> list[SealedRow]:
    """Up to ``limit`` keys sealed under any KEK but ``kek_id``, in id order after ``after_id`` (keyset
    paging: a key that cannot be re-wrapped here is passed over, not read again)."""
    query = (
        select(ServerKey)
        .where(ServerKey.kek_id != kek_id, ServerKey.id > after_id)
        .order_by(ServerKey.id)
        .limit(limit)
    )
    return [
        SealedRow(row.id, row.key_id, row.gun, row.role, row.kek_id, row.private_sealed)
        for row in session.scalars(query)
    ]


def replace_sealing(session: Session, row: SealedRow, kek_id: str, sealed: bytes) -> bool:
    """Store the key re-sealed under ``kek_id``, only if it is still sealed as it was read: a concurrent
    re-wrap (another signer) or deletion wins, and this one changes nothing."""
    result = session.execute(
        update(ServerKey)
        .where(ServerKey.id == row.id, ServerKey.kek_id == row.kek_id)
        .values(kek_id=kek_id, private_sealed=sealed)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def count_sealed_elsewhere(session: Session, kek_id: str) -> dict[str, int]:
    """How many keys are still sealed under each KEK other than ``kek_id``."""
    query = (
        select(ServerKey.kek_id, func.count())
        .where(ServerKey.kek_id != kek_id)
        .group_by(ServerKey.kek_id)
        .order_by(ServerKey.kek_id)
    )
    return {found: count for found, count in session.execute(query)}


NEVER_ACTIVATED = ("pending", "superseded")


def delete_unused_pending(session: Session, created_before: datetime, batch: int) -> int:
    """Delete up to ``batch`` keys minted by ``GET``/``POST .key`` before ``created_before`` that no root
    ever activated (pending ones, and pending ones a rotation superseded). The delete repeats the
    conditions, so a key a commit activated since it was selected stays; the commit locks the key it signs
    with (see ``tuf.commit_update``), so the delete cannot slip in between its check and its activation."""
    unused = (ServerKey.status.in_(NEVER_ACTIVATED), ServerKey.created_at < created_before)
    # Ids first: MySQL cannot DELETE with a LIMIT subquery.
    doomed = list(session.scalars(select(ServerKey.id).where(*unused).order_by(ServerKey.id).limit(batch)))
    if not doomed:
        return 0
    result = session.execute(delete(ServerKey).where(ServerKey.id.in_(doomed), *unused))
    return int(result.rowcount)  # type: ignore[attr-defined]


def held_public_keys(session: Session, gun: str) -> dict[str, list[PublicKey]]:
    """The public halves of the keys the signer holds for ``gun`` (active and pending), by role."""
    query = select(ServerKey).where(ServerKey.gun == gun, ServerKey.status.in_(["active", "pending"]))
    held: dict[str, list[PublicKey]] = {}
    for row in session.scalars(query.order_by(ServerKey.id)):
        held.setdefault(row.role, []).append(PublicKey(row.keytype, row.public))
    return held


def activate_listed(session: Session, listed: Mapping[tuple[str, str], Sequence[str]]) -> None:
    """For each (gun, role), a published root lists ``listed[(gun, role)]``: those keys become active
    (freeing the pending slot); an active key it no longer lists is retired. A pending key it does not list
    stays pending. One read and at most two updates serve every (gun, role)."""
    if not listed:
        return
    guns = {gun for gun, _ in listed}
    rows = session.execute(
        select(ServerKey.id, ServerKey.gun, ServerKey.role, ServerKey.key_id, ServerKey.status).where(
            ServerKey.gun.in_(guns)
        )
    )
    activate: list[int] = []
    retire: list[int] = []
    for row in rows:
        wanted = listed.get((row.gun, row.role))
        if wanted is None:
            continue
        if row.key_id in wanted and row.status != "active":
            activate.append(row.id)
        elif row.key_id not in wanted and row.status == "active":
            retire.append(row.id)
    # Rows loaded into the session are not brought up to date (that costs more than the UPDATE itself);
    # callers do not read them afterwards.
    unsynchronized = {"synchronize_session": False}
    if activate:
        session.execute(
            update(ServerKey)
            .where(ServerKey.id.in_(activate))
            .values(status="active", pending_slot=None, activated_at=utcnow()),
            execution_options=unsynchronized,
        )
    if retire:
        session.execute(
            update(ServerKey).where(ServerKey.id.in_(retire)).values(status="retired"),
            execution_options=unsynchronized,
        )
