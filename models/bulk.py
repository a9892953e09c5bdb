"""Bulk publish jobs: their repositories (one ``BulkItem`` row each), progress counted from those rows, the
per-repository results, and the ``Idempotency-Key`` that names a job.

A repository leaves ``pending`` exactly once (every change is a conditional UPDATE on ``state``), in the same
transaction as the job step that published or refused it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.base import utcnow
from models.tables import BulkItem, IdempotencyKey
from notary.bulk import BulkRepository

PENDING, PUBLISHED, FAILED = "pending", "published", "failed"


@dataclass(frozen=True)
class PendingRepository:
    item_id: int
    gun: str
    files: dict[str, str]  # role -> base64, as a single POST's job carries them


class KeyTakenError(Exception):
    """A concurrent request stored the same Idempotency-Key first; the caller rolls back and reads it."""


def idempotent_job(session: Session, scope: str, key: str) -> tuple[str, str] | None:
    """(fingerprint, job id) recorded for ``key``, if any."""
    query = select(IdempotencyKey.fingerprint, IdempotencyKey.job_id).where(
        IdempotencyKey.scope == scope, IdempotencyKey.key == key
    )
    row = session.execute(query).first()
    return None if row is None else (row.fingerprint, row.job_id)


def remember_key(session: Session, scope: str, key: str, fingerprint: str, job_id: str) -> None:
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint, job_id=job_id))
    except IntegrityError:
        raise KeyTakenError from None


def add_repositories(session: Session, job_id: str, repositories: Sequence[BulkRepository]) -> None:
    """One row per repository of the job; those refused up front are failed already."""
    now = utcnow()
    rows = []
    for position, repository in enumerate(repositories):
        row: dict[str, Any] = {"job_id": job_id, "position": position, "gun": repository.gun}
        if repository.error is None:
            files = {role: base64.b64encode(data).decode() for role, data in repository.files.items()}
            row.update(
                state=PENDING, files=json.dumps(files, separators=(",", ":")), error=None, finished_at=None
            )
        else:
            row.update(state=FAILED, files=None, error=_json(repository.error.to_dict()), finished_at=now)
        rows.append(row)
    session.execute(insert(BulkItem), rows)


def pending_ids(session: Session, job_id: str) -> list[int]:
    query = select(BulkItem.id).where(BulkItem.job_id == job_id, BulkItem.state == PENDING)
    return list(session.scalars(query.order_by(BulkItem.position)))


def pending_repositories(session: Session, item_ids: Iterable[int]) -> list[PendingRepository]:
    query = select(BulkItem).where(BulkItem.id.in_(list(item_ids)), BulkItem.state == PENDING)
    return [
        PendingRepository(row.id, row.gun, json.loads(row.files or "{}"))
        for row in session.scalars(query.order_by(BulkItem.position))
    ]


def has_pending(session: Session, job_id: str) -> bool:
    query = select(BulkItem.id).where(BulkItem.job_id == job_id, BulkItem.state == PENDING).limit(1)
    return session.scalars(query).first() is not None


def guns(session: Session, job_id: str) -> list[str]:
    """The GUNs of a bulk job's repositories, in request order."""
    query = select(BulkItem.gun).where(BulkItem.job_id == job_id).order_by(BulkItem.position)
    return list(session.scalars(query))


def progress(session: Session, job_id: str) -> dict[str, int]:
    query = select(BulkItem.state, func.count()).where(BulkItem.job_id == job_id).group_by(BulkItem.state)
    counts: dict[str, int] = {state: count for state, count in session.execute(query)}
    total = sum(counts.values())
    return {"done": total - counts.get(PENDING, 0), "total": total, "failed": counts.get(FAILED, 0)}


@dataclass(frozen=True)
class Outcome:
    """How a repository ended: published at timestamp ``version``, or failed with ``error``."""

    item_id: int
    version: int | None = None
    error: dict[str, Any] | None = None


def settle(session: Session, outcomes: Sequence[Outcome]) -> None:
    """Record the outcomes of repositories still pending (one statement for all of them)."""
    if not outcomes:
        return
    table = cast(Table, BulkItem.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("item"), table.c.state == PENDING)
        .values(
            state=bindparam("outcome"),
            version=bindparam("new_version"),
            error=bindparam("new_error"),
            files=None,
            finished_at=utcnow(),
        )
    )
    session.connection().execute(
        statement,
        [
            {
                "item": outcome.item_id,
                "outcome": FAILED if outcome.version is None else PUBLISHED,
                "new_version": outcome.version,
                "new_error": None if outcome.version is not None else _json(outcome.error or {}),
            }
            for outcome in outcomes
        ],
    )


def fail_pending(session: Session, item_ids: Iterable[int], error: dict[str, Any]) -> None:
    """Fail whichever of ``item_ids`` are still pending, all with ``error``."""
    ids = list(item_ids)
    if ids:
        session.execute(
            update(BulkItem)
            .where(BulkItem.id.in_(ids), BulkItem.state == PENDING)
            .values(state=FAILED, error=_json(error), files=None, finished_at=utcnow()),
            execution_options={"synchronize_session": False},
        )


def results(session: Session, job_id: str) -> list[dict[str, Any]]:
    """Each repository's outcome, in request order."""
    query = select(BulkItem).where(BulkItem.job_id == job_id).order_by(BulkItem.position)
    outcomes: list[dict[str, Any]] = []
    for row in session.scalars(query):
        if row.state == PUBLISHED:
            outcomes.append({"gun": row.gun, "state": PUBLISHED, "version": row.version})
        else:
            outcomes.append({"gun": row.gun, "state": FAILED, "error": json.loads(row.error or "{}")})
    return outcomes


def delete_for_jobs(session: Session, job_ids: Sequence[str]) -> None:
    """Forget the repositories and Idempotency-Keys of jobs being purged."""
    session.execute(delete(BulkItem).where(BulkItem.job_id.in_(job_ids)))
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.job_id.in_(job_ids)))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
