"""Planning one atomic update of a repository, in notary-server's order (root, targets and delegations
shallowest first, snapshot, timestamp), against the state already stored.

The plan says which uploaded files to store, and what the signer must sign: the server-generated snapshot
(when the update has none and the server holds the snapshot key) and always a new timestamp. It is pure data
(``to_work``/``from_work``) so it can travel between the verify, sign and commit steps of the job.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from notary.tuf import roles
from notary.tuf.checks import (
    RootInfo,
    TargetsInfo,
    check_delegation_exists,
    check_root,
    check_snapshot,
    check_targets,
)
from notary.tuf.errors import BadHierarchyError, BadRootError, BadTargetsError, GeneralValidationError
from notary.tuf.keys import PublicKey
from notary.tuf.metadata import SignedMetadata, file_meta, parse_metadata
from notary.tuf.timefmt import format_go_time
from notary.tuf.verify import RoleKeys

SNAPSHOT_LIFETIME = timedelta(days=3 * 365)
TIMESTAMP_LIFETIME = timedelta(days=14)
NO_SNAPSHOT_KEY = (
    "no snapshot was included in update and server does not hold current snapshot key for repository"
)


class RepositoryView(Protocol):
    """What the planner reads of the stored repository (the consistent "current" files)."""

    def current(self, role: str) -> bytes | None: ...

    def latest_version(self, role: str) -> int:
        """The highest stored version of ``role`` (0 when none), whatever the snapshot says."""


@dataclass(frozen=True)
class SigningOrder:
    """Something the signer must sign: ``signed`` (absent for a timestamp, which the signer builds from the
    final snapshot bytes) with the server key ``key_id`` of ``role``."""

    role: str
    key_id: str
    version: int
    expires: str
    signed: dict[str, Any] | None = None


@dataclass(frozen=True)
class UpdatePlan:
    gun: str
    files: dict[str, bytes]
    snapshot: SigningOrder | None
    timestamp: SigningOrder
    root_key_ids: dict[str, list[str]]
    current_snapshot: bytes | None = None  # what a new timestamp covers when no snapshot is stored or made

    def snapshot_bytes(self, signed_snapshot: bytes | None) -> bytes:
        """The exact snapshot file the new timestamp must describe."""
        found = signed_snapshot or self.files.get("snapshot") or self.current_snapshot
        if found is None:
            raise ValueError("a timestamp needs a snapshot")
        return found

    def to_work(self) -> dict[str, Any]:
        return {
            "gun": self.gun,
            "files": {role: base64.b64encode(raw).decode() for role, raw in self.files.items()},
            "snapshot": None if self.snapshot is None else _order_to_dict(self.snapshot),
            "timestamp": _order_to_dict(self.timestamp),
            "root_key_ids": self.root_key_ids,
            "current_snapshot": None
            if self.current_snapshot is None
            else base64.b64encode(self.current_snapshot).decode(),
        }

    @classmethod
    def from_work(cls, work: Mapping[str, Any]) -> UpdatePlan:
        return cls(
            gun=work["gun"],
            files={role: base64.b64decode(raw) for role, raw in work["files"].items()},
            snapshot=None if work["snapshot"] is None else SigningOrder(**work["snapshot"]),
            timestamp=SigningOrder(**work["timestamp"]),
            root_key_ids=work["root_key_ids"],
            current_snapshot=None
            if work.get("current_snapshot") is None
            else base64.b64decode(work["current_snapshot"]),
        )


def _order_to_dict(order: SigningOrder) -> dict[str, Any]:
    return {
        "role": order.role,
        "key_id": order.key_id,
        "version": order.version,
        "expires": order.expires,
        "signed": order.signed,
    }


def held_key(root: RootInfo, role: str, held: Mapping[str, Sequence[PublicKey]]) -> str | None:
    """The first key of root's ``role`` that the server holds (notary's rule), or None."""
    held_ids = {key.key_id for key in held.get(role, ())}
    return next((key_id for key_id in root.roles[role].keyids if key_id in held_ids), None)


def plan_update(
    gun: str,
    uploads: Mapping[str, SignedMetadata],
    view: RepositoryView,
    held: Mapping[str, Sequence[PublicKey]],
    now: datetime,
) -> UpdatePlan:
    """Validate ``uploads`` against the stored repository; raises a notary.tuf.errors.ValidationError."""
    root = _check_root(gun, uploads, view, now)
    loaded: dict[str, bytes] = {"root": root.metadata.raw}
    checked: dict[str, TargetsInfo] = {}
    for role in sorted((r for r in uploads if roles.is_targets_role(r)), key=roles.depth):
        signer, keys = _signing_role(role, root, checked, loaded, view, now)
        checked[role] = check_targets(uploads[role], signer, keys, now)
        loaded[role] = uploads[role].raw

    files = {role: uploads[role].raw for role in uploads if role != "timestamp"}
    snapshot_order: SigningOrder | None = None
    if "snapshot" in uploads:
        check_snapshot(uploads["snapshot"], root, loaded, now)
    else:
        snapshot_key = held_key(root, "snapshot", held)
        if snapshot_key is None:
            raise BadHierarchyError("snapshot", NO_SNAPSHOT_KEY)
        snapshot_order = _next_snapshot(
            view, snapshot_key, {role: file_meta(raw) for role, raw in loaded.items()}, now
        )

    timestamp_order = _next_timestamp(root, held, view, now)
    root_key_ids = {role: list(root.roles[role].keyids) for role in roles.SERVER_ROLES}
    return UpdatePlan(gun, files, snapshot_order, timestamp_order, root_key_ids)


def _check_root(
    gun: str, uploads: Mapping[str, SignedMetadata], view: RepositoryView, now: datetime
) -> RootInfo:
    stored = view.current("root")
    previous = None if stored is None else RootInfo.from_metadata(parse_metadata("root", stored))
    if "root" in uploads:
        return check_root(uploads["root"], previous, gun, now)
    if previous is None:
        raise GeneralValidationError("no pre-existing root and no root provided in update.")
    return previous


def _signing_role(
    role: str,
    root: RootInfo,
    checked: dict[str, TargetsInfo],
    loaded: dict[str, bytes],
    view: RepositoryView,
    now: datetime,
) -> tuple[RoleKeys, Mapping[str, PublicKey]]:
    """The role entry and keys that must sign ``role``: root's targets role, or its parent's delegation.
    Ancestors not in the update are loaded from the store and checked too."""
    if role == roles.TARGETS:
        return root.roles[roles.TARGETS], root.keys
    parent = _ancestor(roles.parent_of(role), root, checked, loaded, view, now)
    if parent is None:  # notary names the role being uploaded, not the missing ancestor
        raise BadTargetsError(f"tuf: invalid role {role}. delegation does not exist")
    return check_delegation_exists(role, parent), parent.keys


def _ancestor(
    role: str,
    root: RootInfo,
    checked: dict[str, TargetsInfo],
    loaded: dict[str, bytes],
    view: RepositoryView,
    now: datetime,
) -> TargetsInfo | None:
    if role in checked:
        return checked[role]
    stored = view.current(role)
    if stored is None:
        return None
    signer, keys = _signing_role(role, root, checked, loaded, view, now)
    # Loaded ancestors may have expired (as in notary): only what the update brings must be current.
    info = check_targets(parse_metadata(role, stored), signer, keys, now, allow_expired=True)
    checked[role] = info
    loaded[role] = stored
    return info


def _next_timestamp(
    root: RootInfo, held: Mapping[str, Sequence[PublicKey]], view: RepositoryView, now: datetime
) -> SigningOrder:
    """Always one version up and valid for 14 days, signed with a timestamp key of root the server holds."""
    timestamp_key = held_key(root, "timestamp", held)
    if timestamp_key is None:
        raise BadRootError("no timestamp keys exist on the server")
    version = view.latest_version("timestamp") + 1
    return SigningOrder("timestamp", timestamp_key, version, format_go_time(now + TIMESTAMP_LIFETIME))


def _next_snapshot(
    view: RepositoryView, key_id: str, replaced: Mapping[str, Any], now: datetime
) -> SigningOrder:
    """The server's snapshot: the current one's entries, with those of every file of this validation
    replaced, one version up, valid for three years."""
    stored = view.current("snapshot")
    meta: dict[str, Any] = {}
    if stored is not None:
        meta.update(parse_metadata("snapshot", stored).signed.get("meta", {}))
    meta.update(replaced)
    version = view.latest_version("snapshot") + 1
    order = SigningOrder("snapshot", key_id, version, format_go_time(now + SNAPSHOT_LIFETIME))
    return replace(order, signed=snapshot_signed(order, meta))


def plan_refresh(
    gun: str, view: RepositoryView, held: Mapping[str, Sequence[PublicKey]], now: datetime, margin: timedelta
) -> UpdatePlan | None:
    """Re-sign what expires within ``margin``: the timestamp, and the snapshot when the server holds its key.
    None when nothing needs it. An expired snapshot whose key the server lacks cannot be fixed here."""
    stored_root, stored_snapshot, stored_timestamp = (
        view.current(r) for r in ("root", "snapshot", "timestamp")
    )
    if stored_root is None or stored_snapshot is None or stored_timestamp is None:
        return None
    root = RootInfo.from_metadata(parse_metadata("root", stored_root))
    snapshot = parse_metadata("snapshot", stored_snapshot)
    timestamp = parse_metadata("timestamp", stored_timestamp)
    deadline = now + margin
    snapshot_order = None
    if snapshot.expires <= deadline:
        snapshot_key = held_key(root, "snapshot", held)
        if snapshot_key is not None:
            snapshot_order = _next_snapshot(view, snapshot_key, {}, now)
        elif snapshot.expires <= now:
            raise BadHierarchyError("snapshot", "snapshot expired and the server does not hold its key")
    if snapshot_order is None and timestamp.expires > deadline:
        return None
    timestamp_order = _next_timestamp(root, held, view, now)
    root_key_ids = {r: list(root.roles[r].keyids) for r in roles.SERVER_ROLES}
    return UpdatePlan(
        gun, {}, snapshot_order, timestamp_order, root_key_ids, current_snapshot=stored_snapshot
    )


def snapshot_signed(order: SigningOrder, meta: dict[str, Any]) -> dict[str, Any]:
    """The server's snapshot: its fields are the order's, and only its ``meta`` comes from the plan."""
    return {"_type": "Snapshot", "expires": order.expires, "meta": meta, "version": order.version}


def timestamp_signed(order: SigningOrder, snapshot_raw: bytes) -> dict[str, Any]:
    return {
        "_type": "Timestamp",
        "expires": order.expires,
        "meta": {"snapshot": file_meta(snapshot_raw)},
        "version": order.version,
    }
