"""Keys issued in other datacenters, for the verification hot path (shared-keys.md section 7).

A foreign key is fetched from its issuing Notary (``keys.peers``) on first use, with a request signed by
the key this process obtained from that peer (notary/keys/federation.py explains why it must be the peer's
own), and cached in memory until the key expires. One fetch per identity is in flight at a time, and a fetch
(login included) takes at most ``keys.federation.timeout``: past it, or when the peer is down, answers 5xx
or anything off-contract, the verdict is FederationUnavailableError, never a key.

The login key and fetched secrets live in this process's memory only: not in Redis, not on disk. A
revocation in the issuing datacenter is not pushed here: a fetched key stays usable until its expiry.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from notary import errors
from notary.client.auth import NotaryHttpxAuth
from notary.keys.federation import (
    SERVED_KEY_PATH,
    LoginKey,
    PeerAnswerError,
    parse_login,
    parse_served_key,
)
from notary.keys.identity import VerificationKey

log = logging.getLogger("notary.federation")
MAX_PEER_KEYS: Final = 100_000
MAX_ANSWER_BYTES: Final = 64 * 1024


class PeerRefusedError(Exception):
    """The peer answered with a status the contract does not expect here."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the peer answered {status}")


class PeerClient:
    """One peer datacenter's Notary, as this process talks to it: its login key there (obtained on first
    need and replaced before it expires, or as soon as the peer stops accepting it) and the key fetch."""

    def __init__(self, dc: str, url: str, login_body: Mapping[str, str], http: httpx.AsyncClient) -> None:
        self.dc = dc
        self.url = url
        self._login_body = dict(login_body)
        self._http = http
        self._login: LoginKey | None = None
        self._login_lock = asyncio.Lock()

    async def fetch(self, identity: str) -> VerificationKey | None:
        """The usable key ``identity``, or None when the peer has no such usable key."""
        for attempt in range(2):
            login = await self._current_login()
            status, answer = await self._exchange(
                "GET", SERVED_KEY_PATH + identity, auth=NotaryHttpxAuth(login.identity, login.secret)
            )
            if status == 401 and attempt == 0:
                # The peer no longer knows our key (revoked, swept, its database restored): log in again.
                self._forget(login)
                continue
            if status == 404:
                return None
            if status != 200:
                raise PeerRefusedError(status)
            key = parse_served_key(answer, identity)
            return key if key.usable(datetime.now(UTC)) else None
        raise PeerRefusedError(401)

    async def _current_login(self) -> LoginKey:
        async with self._login_lock:
            now = datetime.now(UTC)
            if self._login is None or self._login.due_for_renewal(now):
                status, answer = await self._exchange("POST", "/v1/keys", json=self._login_body)
                if status != 201:
                    raise PeerRefusedError(status)
                self._login = parse_login(answer, now)
                log.info("logged in to a peer datacenter", extra={"dc": self.dc, "key": self._login.identity})
            return self._login

    def _forget(self, login: LoginKey) -> None:
        if self._login is login:
            self._login = None

    async def _exchange(self, method: str, path: str, **options: Any) -> tuple[int, object]:
        """The status and the JSON answer (None when it is not JSON), read up to MAX_ANSWER_BYTES."""
        async with self._http.stream(method, self.url + path, **options) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise PeerAnswerError("the answer is too large")
            try:
                answer = json.loads(body) if body else None
            except ValueError:  # UnicodeDecodeError included
                answer = None
            return response.status_code, answer


class PeerKeys:
    """The foreign-key cache of one API process: bounded, each entry kept until its key expires."""

    def __init__(
        self,
        peers: Mapping[str, str],
        login_body: Mapping[str, str] | None,
        timeout: float,
        max_entries: int = MAX_PEER_KEYS,
    ) -> None:
        self.timeout = timeout
        self.max_entries = max_entries
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._peers = (
            {dc: PeerClient(dc, url, login_body, self._http) for dc, url in peers.items()}
            if login_body
            else {}
        )
        self._entries: OrderedDict[str, VerificationKey] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[VerificationKey | None]] = {}

    def knows(self, dc: str) -> bool:
        return dc in self._peers

    async def get(self, identity: str, dc: str) -> VerificationKey | None:
        """The usable key ``identity`` issued in ``dc`` (a known peer), or None when its Notary has no such
        usable key. Raises FederationUnavailableError when that Notary cannot tell."""
        found = self._entries.get(identity)
        if found is not None:
            if found.usable(datetime.now(UTC)):
                self._entries.move_to_end(identity)
                return found
            del self._entries[identity]
        flight = self._in_flight.get(identity)
        if flight is None:
            flight = asyncio.create_task(self._fetch(identity, self._peers[dc]))
            self._in_flight[identity] = flight
            flight.add_done_callback(lambda done: self._landed(identity, done))
        # Shielded: a caller that goes away does not cancel the fetch the others wait for.
        return await asyncio.shield(flight)

    def _landed(self, identity: str, flight: asyncio.Task[VerificationKey | None]) -> None:
        if self._in_flight.get(identity) is flight:
            del self._in_flight[identity]
        if not flight.cancelled():
            flight.exception()  # retrieved here too, in case every waiter went away

    async def _fetch(self, identity: str, peer: PeerClient) -> VerificationKey | None:
        try:
            async with asyncio.timeout(self.timeout):
                key = await peer.fetch(identity)
        except TimeoutError:
            raise self._unavailable(peer, identity, "timed out") from None
        except (httpx.HTTPError, PeerAnswerError, PeerRefusedError) as failure:
            raise self._unavailable(peer, identity, str(failure) or type(failure).__name__) from None
        if key is not None:
            self._entries[identity] = key
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return key

    @staticmethod
    def _unavailable(peer: PeerClient, identity: str, reason: str) -> errors.FederationUnavailableError:
        log.warning(
            "cannot fetch a key from a peer datacenter",
            extra={"dc": peer.dc, "identity": identity, "reason": reason},
        )
        return errors.FederationUnavailableError({"dc": peer.dc})

    async def close(self) -> None:
        await self._http.aclose()
