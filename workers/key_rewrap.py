"""Re-wrapping the server keys under the current key-encryption key, so that an old KEK can be retired.

The rotation, with no downtime: put the new KEK first in ``signer.keks`` and keep the old one after it,
restart the signers (they now seal new keys under the new KEK and still open the old ones), let the re-wrap
run (beat sends ``signer.rewrap_keys`` every ten minutes; ``notary-signer -rewrap`` does it at once and
exits 0 once no key is left under another KEK), then remove the old KEK.

Each batch is read, re-sealed outside any write transaction, then written with conditional updates: a row
changed since it was read (re-wrapped by another signer, or deleted) is left as it is, so concurrent runs,
a crash half-way and a re-run are all harmless. A key sealed under a KEK this signer lacks is passed over
and reported, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from models.db import Database
from models.server_keys import SealedRow, count_sealed_elsewhere, replace_sealing, sealed_elsewhere
from notary.sealing import SealingError, reseal, server_key_aad
from workers import metrics

log = logging.getLogger("notary.signer")
BATCH = 100

Keks = Sequence[tuple[str, bytes]]


@dataclass
class RewrapProgress:
    """How far a re-wrap got: keys re-sealed, the last id looked at, and whether every key was looked at."""

    rewrapped: int = 0
    last_id: int = 0
    finished: bool = False


def rewrap(
    database: Database,
    keks: Keks,
    *,
    after_id: int = 0,
    max_batches: int | None = None,
    batch: int = BATCH,
) -> RewrapProgress:
    """Re-seal under ``keks[0]`` the keys after ``after_id`` that are sealed under another KEK: all of them,
    or ``max_batches`` batches of ``batch`` (then ``finished`` is False and ``last_id`` says where to go
    on)."""
    current = keks[0][0]
    progress = RewrapProgress(last_id=after_id)
    batches = 0
    while not progress.finished and (max_batches is None or batches < max_batches):
        with database.read() as session:
            rows = sealed_elsewhere(session, current, progress.last_id, batch)
        resealed = [(row, sealed) for row in rows if (sealed := _resealed(keks, row)) is not None]
        if resealed:
            with database.transaction() as session:
                done = sum(replace_sealing(session, row, current, sealed) for row, sealed in resealed)
            progress.rewrapped += done
            metrics.KEYS_REWRAPPED.inc(done)
        if rows:
            progress.last_id = rows[-1].id
        batches += 1
        progress.finished = len(rows) < batch
    return progress


def _resealed(keks: Keks, row: SealedRow) -> bytes | None:
    try:
        return reseal(keks, row.kek_id, row.private_sealed, server_key_aad(row.key_id, row.gun, row.role))[1]
    except SealingError:
        if row.kek_id in dict(keks):  # a missing KEK is reported once per pass; this is damage
            log.error(
                "a server key does not open under its KEK", extra={"key_id": row.key_id, "kek_id": row.kek_id}
            )
        return None


def report(database: Database, keks: Keks, rewrapped: int) -> dict[str, int]:
    """Log the outcome of a pass and set ``notary_server_keys_awaiting_rewrap``; returns the keys left under
    other KEKs, by KEK id (the old KEK may be removed once this is empty)."""
    with database.read() as session:
        left = count_sealed_elsewhere(session, keks[0][0])
    metrics.KEYS_AWAITING_REWRAP.set(sum(left.values()))
    missing = sorted(set(left) - set(dict(keks)))
    summary = {"rewrapped": rewrapped, "current_kek": keks[0][0], "left": left, "missing_keks": missing}
    if missing:
        log.warning("re-wrap pass done; some keys are sealed under KEKs this signer lacks", extra=summary)
    else:
        log.info("re-wrap pass done", extra=summary)
    return left
