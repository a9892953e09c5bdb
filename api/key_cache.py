"""The verification hot path's cache: each shared key's secrets and roles, in memory, so a warm verify costs
no database or Celery hop. Entries live at most until the key expires; a revocation or renewal is a change
of ``key:<identity>``, which every API process forgets before the writer answers (see api/metadata_cache.py,
whose liveness this cache shares: a process that cannot keep up stops answering from either cache)."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from datetime import UTC, datetime

from api.metadata_cache import MetadataCache
from models import shared_keys as store
from models.db import Database
from notary.keys.identity import VerificationKey
from notary.sealing import shared_key_aad, unseal

KEY_NAMESPACE = "key:"


def change_name(identity: str) -> str:
    return KEY_NAMESPACE + identity


class KeyCache:
    def __init__(
        self,
        database: Database,
        keks: tuple[tuple[str, bytes], ...],
        process_cache: MetadataCache,
        max_entries: int = 200_000,
    ) -> None:
        self.database = database
        self.keks = keks
        self.process_cache = process_cache
        self.max_entries = max_entries
        self._entries: OrderedDict[str, VerificationKey] = OrderedDict()
        process_cache.on_forget(self._forget)

    def _forget(self, name: str | None) -> None:
        if name is None:
            self._entries.clear()
        elif name.startswith(KEY_NAMESPACE):
            self._entries.pop(name.removeprefix(KEY_NAMESPACE), None)

    async def get(self, identity: str) -> VerificationKey | None:
        """The usable key (not expired, not revoked), or None."""
        self.process_cache.start()
        now = datetime.now(UTC)
        if self.process_cache.live:
            found = self._entries.get(identity)
            if found is not None and found.usable(now):
                self._entries.move_to_end(identity)
                return found
        generation = self.process_cache.generation(change_name(identity))
        loaded = await asyncio.to_thread(self._load, identity)
        if loaded is None or not loaded.usable(now):
            return None
        if self.process_cache.live and self.process_cache.generation(change_name(identity)) == generation:
            self._entries[identity] = loaded
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return loaded

    def _load(self, identity: str) -> VerificationKey | None:
        with self.database.read() as session:
            row = store.get_key(session, identity)
            if row is None or row.revoked_at is not None:
                return None
            secret = unseal(self.keks, row.kek_id, row.secret_sealed, shared_key_aad(identity))
            return VerificationKey(identity, (secret.decode(),), tuple(json.loads(row.roles)), row.expires_at)
