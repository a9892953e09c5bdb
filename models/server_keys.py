"""The SQL implementation of ``notary.ports.ServerKeyStore``, bound to one session (one transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
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
