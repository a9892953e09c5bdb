"""Shared-key jobs: issuing (after the API verified the instance's PKCS7), renewing, and the expiry sweep.

Task messages carry only the identity tuple and a nonce HASH, never a secret: the secret is generated
here, sealed under ``keys.keks`` and stored; the API unseals it to answer the client.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from models import shared_keys as store
from models.base import iso_utc, utcnow
from models.tables import Job, SharedKey
from notary import errors
from notary.keys import politician
from notary.keys.identity import new_identity, new_secret
from notary.sealing import seal, shared_key_aad
from notary.settings import Settings
from workers import metrics, runtime
from workers.app import celery_app
from workers.base import JobTask
from workers.ec2_enrichment import Ec2Enricher
from workers.politician import HttpProvider, StaticProvider

log = logging.getLogger("notary.keys")
SWEEP_BATCH = 500
SWEEP_PAUSE_SECONDS = 0.05  # between batches, so a large sweep yields the CPU to request handling

_provider: StaticProvider | HttpProvider | None = None


def roles_provider(settings: Settings) -> StaticProvider | HttpProvider:
    global _provider
    if _provider is None:
        if settings["politician.provider"] == "http":
            _provider = HttpProvider(
                settings["politician.url"],
                timeout=settings["politician.timeout"],
                retries=settings["politician.retries"],
                cache_seconds=float(settings["politician.cache_seconds"]),
            )
        else:
            _provider = StaticProvider(politician.parse_bindings(list(settings["politician.bindings"])))
    return _provider


_enricher: Ec2Enricher | None = None


def ec2_enricher(settings: Settings) -> Ec2Enricher:
    global _enricher
    if _enricher is None:
        _enricher = Ec2Enricher(
            endpoint_url=settings["politician.ec2_endpoint_url"],
            timeout=settings["politician.timeout"],
            retries=settings["politician.retries"],
            cache_seconds=float(settings["politician.cache_seconds"]),
        )
    return _enricher


def lookup_roles(settings: Settings, identity: politician.IdentityTuple) -> tuple[str, ...]:
    try:
        if settings["politician.ec2_enrichment"]:
            identity = ec2_enricher(settings).enrich(identity)
        return roles_provider(settings).roles(identity)
    except politician.RolesUnavailableError:
        raise errors.RolesUnavailableError() from None


def identity_tuple(params: dict[str, Any]) -> politician.IdentityTuple:
    return politician.IdentityTuple(
        account=params["account"], region=params["region"], image=params["image"], instance=params["instance"]
    )


class IssueKeyTask(JobTask):
    name = "keys.issue"

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        return lookup_roles(runtime.current().settings, identity_tuple(params))

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        settings = runtime.current().settings
        keks = settings["keys.keks"]
        if not keks:
            raise errors.KeysDisabledError()
        nonce = None
        nonce_sha256 = params.get("nonce_sha256")
        if nonce_sha256 is None:  # the client gave none: make one, to be shown once with the secret
            nonce = secrets.token_urlsafe(32)
            nonce_sha256 = hashlib.sha256(nonce.encode()).hexdigest()
        store.check_access(
            session,
            instance_id=params["instance"],
            account=params["account"],
            nonce_sha256=nonce_sha256,
            pending_time=datetime.fromisoformat(params["pending_time"]),
            retention=settings["keys.access_list_retention"],
        )
        roles: tuple[str, ...] = prepared  # looked up before this transaction opened
        identity = new_identity(settings["keys.dc"]).encode()
        kek_id, secret_sealed = seal(keks, new_secret().encode(), shared_key_aad(identity))
        nonce_sealed = None if nonce is None else seal(keks, nonce.encode(), shared_key_aad(identity))[1]
        now = utcnow()
        ttl = settings["keys.ttl"]
        row = SharedKey(
            identity=identity,
            dc=settings["keys.dc"],
            account=params["account"],
            region=params["region"],
            image=params["image"],
            instance_id=params["instance"],
            roles=json.dumps(list(roles)),
            secret_sealed=secret_sealed,
            nonce_sealed=nonce_sealed,
            kek_id=kek_id,
            ttl=ttl,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
            max_expires_at=now + timedelta(seconds=settings["keys.max_ttl"]),
        )
        session.add(row)
        store.record_issued(session, row)
        store.audit(
            session,
            identity,
            "issued",
            instance=params["instance"],
            roles=list(roles),
            expires_at=row.expires_at,
        )
        log.info(
            "issued a key", extra={"identity": identity, "instance": params["instance"], "roles": list(roles)}
        )
        return {
            "identity": identity,
            "roles": list(roles),
            "ttl": ttl,
            "expires_at": iso_utc(row.expires_at),
        }


class RenewKeyTask(JobTask):
    """Extend a key by its ttl, never past its max lifetime, with its roles looked up again."""

    name = "keys.renew"

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        with runtime.current().database.read() as session:
            row = store.get_key(session, params["identity"])
            if row is None:
                return ()
            found = politician.IdentityTuple(
                account=row.account, region=row.region, image=row.image, instance=row.instance_id
            )
        return lookup_roles(runtime.current().settings, found)

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        row = store.get_key(session, params["identity"])
        now = utcnow()
        if row is None or not store.view(row).usable(now):
            raise errors.KeyNotFoundError()
        if now >= row.max_expires_at:
            raise errors.RenewalLimitError()
        roles: tuple[str, ...] = prepared  # looked up again, before this transaction opened
        row.roles = json.dumps(list(roles))
        row.expires_at = min(now + timedelta(seconds=row.ttl), row.max_expires_at)
        store.audit(session, row.identity, "renewed", roles=list(roles), expires_at=row.expires_at)
        return store.view(row).to_dict(now)


issue_key = celery_app.register_task(IssueKeyTask())
renew_key = celery_app.register_task(RenewKeyTask())


@celery_app.task(name="keys.sweep")
def sweep() -> dict[str, int]:
    """Beat: delete keys past expiry (after a grace period) and stale access-list entries, in batches so
    verification traffic never waits behind one long transaction."""
    settings = runtime.current().settings
    grace = timedelta(seconds=settings["keys.expiry_grace"])
    deleted_keys = deleted_entries = 0
    while True:
        with runtime.current().database.transaction() as session:
            identities, entries = store.sweep(session, utcnow(), grace, SWEEP_BATCH)
        deleted_keys += len(identities)
        deleted_entries += entries
        if len(identities) < SWEEP_BATCH and entries < SWEEP_BATCH:
            break
        time.sleep(SWEEP_PAUSE_SECONDS)
    metrics.KEYS_SWEPT.inc(deleted_keys)
    log.info("swept expired keys", extra={"keys": deleted_keys, "access_list_entries": deleted_entries})
    return {"keys": deleted_keys, "access_list_entries": deleted_entries}
