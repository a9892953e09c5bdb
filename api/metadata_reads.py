"""Serving metadata: current, by checksum, by version, from the per-process cache or the database.

The current timestamp (and the snapshot it names) is checked for freshness on every read, from the cache:
if either has expired, a refresh job re-signs it through the signer (notary's lazy re-signing), and the read
waits for it. Beat normally re-signs well before that, so readers rarely pay for it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from api.job_runner import JobRunner
from api.metadata_cache import CachedFile, MetadataCache
from api.signer_presence import SignerPresence
from models.db import Database
from models.tuf_files import SqlTufStore, StoredFile
from notary.errors import NotaryError, NotFoundError, VersionError
from notary.jobs import JobState
from notary.tuf.timefmt import parse_go_time

FRESHNESS_ROLES = ("timestamp", "snapshot")


def _expiry(data: bytes) -> datetime | None:
    try:
        return parse_go_time(json.loads(data)["signed"]["expires"])
    except (ValueError, KeyError, TypeError):
        return None


def _cached(found: StoredFile, *, current: bool) -> CachedFile:
    last_modified = found.updated_at if current else found.created_at
    expires = _expiry(found.data) if current and found.role in FRESHNESS_ROLES else None
    return CachedFile(found.data, found.sha256, last_modified, expires)


class MetadataReads:
    def __init__(
        self,
        database: Database,
        cache: MetadataCache,
        runner: JobRunner,
        signer: SignerPresence,
        wait_timeout: float,
    ) -> None:
        self.database = database
        self.cache = cache
        self.runner = runner
        self.signer = signer
        self.wait_timeout = wait_timeout
        self._refreshing: dict[str, asyncio.Lock] = {}

    async def _lookup(self, gun: str, addressing: str, role: str, selector: str) -> CachedFile:
        key = (gun, addressing, f"{role}\x00{selector}")
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        generation = self.cache.generation(gun)

        def read() -> StoredFile | None:
            with self.database.read() as session:
                store = SqlTufStore(session)
                if addressing == "current":
                    return store.current(gun, role)
                if addressing == "checksum":
                    return store.by_checksum(gun, role, selector)
                return store.by_version(gun, role, int(selector))

        found = await asyncio.to_thread(read)
        if found is None:
            raise NotFoundError({})
        entry = _cached(found, current=addressing == "current")
        self.cache.put(key, entry, generation)
        return entry

    async def current(self, gun: str, role: str) -> CachedFile:
        self.cache.start()
        if role in FRESHNESS_ROLES and not await self._fresh(gun):
            # One refresh per GUN at a time in this process; whoever waited finds it fresh afterwards.
            lock = self._refreshing.setdefault(gun, asyncio.Lock())
            async with lock:
                if not await self._fresh(gun):
                    await self._refresh(gun)
            if not lock.locked() and self._refreshing.get(gun) is lock:
                del self._refreshing[gun]
        return await self._lookup(gun, "current", role, "")

    async def by_checksum(self, gun: str, role: str, checksum: str) -> CachedFile:
        if len(checksum) != 64:  # only sha256 is stored and indexed, as in notary
            raise NotFoundError({})
        self.cache.start()
        return await self._lookup(gun, "checksum", role, checksum.lower())

    async def by_version(self, gun: str, role: str, version: int) -> CachedFile:
        if version < 1:
            raise NotFoundError({})
        self.cache.start()
        return await self._lookup(gun, "version", role, str(version))

    async def _fresh(self, gun: str) -> bool:
        """Neither the current timestamp nor the snapshot it names has expired."""
        now = datetime.now(UTC)
        for role in FRESHNESS_ROLES:
            entry = await self._lookup(gun, "current", role, "")
            if entry.expires is not None and entry.expires <= now:
                return False
        return True

    async def _refresh(self, gun: str) -> None:
        if not await self.signer.alive():
            # No one could re-sign it: serve the stored file at once (as after a refresh that timed out) and
            # let the client judge its expiry, rather than make every reader wait for a job no one runs.
            return
        job_id = await self.runner.submit("tuf.refresh", {"margin": 0}, gun=gun)
        job = await self.runner.wait(job_id, self.wait_timeout, settle=True)
        if job is not None and job.state is JobState.FAILED:
            error = NotaryError.from_dict(job.error or {})
            if not isinstance(error, VersionError):  # another process refreshed it first: just read it
                raise error
