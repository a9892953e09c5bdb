"""Shared-key tasks: the roles lookup of a synchronous issuance, the asynchronous issuance job (both after the
API verified the instance's PKCS7), renewing, and the expiry sweep.

Task messages carry only the identity tuple and a nonce HASH, never a secret: an asynchronous issuance makes
the secret here, seals it under ``keys.keks`` and stores it; the API unseals it for its one reader.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from models import shared_keys as store
from models.base import utcnow
from models.key_issuance import IssuePolicy, Login, issue_key
from models.tables import Job
from notary import errors
from notary.keys import politician
from notary.settings import Settings
from workers import metrics, runtime
from workers.app import celery_app
from workers.base import JobTask
from workers.ec2_enrichment import Ec2Enricher
from workers.idle_cpu import IdleCpu
from workers.politician import HttpProvider, StaticProvider
from workers.replies import (
    LOOKUP_ROLES,
    MAX_CALLS_PER_MESSAGE,
    Reply,
    reply_mac_keys,
    send_replies,
    take_calls,
)

log = logging.getLogger("notary.keys")
# A long sweep yields to request handling: it takes at most SWEEP_CPU_SHARE of a CPU (pausing after each batch
# in proportion to the time the batch took), and while the machine's CPUs are nearly all busy it goes on
# with only one batch a second: the keys are expired, so deleting them later costs nothing, whereas every
# batch run on a saturated machine takes its time from requests (verify's p99 rose 40-50% during a sweep).
SWEEP_BATCH = 100
SWEEP_CPU_SHARE = 0.2
SWEEP_BUSY_BELOW_IDLE = 0.1  # the machine counts as saturated below this idle share of its CPU time
SWEEP_IDLE_CHECK_SECONDS = 0.1
SWEEP_MAX_PAUSE_SECONDS = 1.0
LOOKUP_THREADS = 8  # concurrent Politician/EC2 lookups of one batch of calls

# Made once per process, by whichever lookup thread comes first.
_provider: StaticProvider | HttpProvider | None = None
_enricher: Ec2Enricher | None = None
_clients_lock = threading.Lock()


def roles_provider(settings: Settings) -> StaticProvider | HttpProvider:
    global _provider
    with _clients_lock:
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


def ec2_enricher(settings: Settings) -> Ec2Enricher:
    global _enricher
    with _clients_lock:
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


class IssueKeyTask(JobTask):
    """An asynchronous issuance (``Prefer: respond-async``): its secret waits, sealed, for one reader."""

    name = "keys.issue"

    def prepare(self, params: dict[str, Any], work: Any) -> Any:
        return lookup_roles(runtime.current().settings, Login.from_params(params).identity_tuple)

    def execute(self, session: Session, job: Job, params: dict[str, Any], prepared: Any) -> Any:
        policy = IssuePolicy.from_settings(runtime.current().settings)
        issued = issue_key(session, policy, Login.from_params(params), prepared, answered_now=False)
        return issued.public()


@functools.lru_cache(maxsize=4)
def _reply_mac_key(keks: tuple[tuple[str, bytes], ...]) -> bytes:
    keys = reply_mac_keys(keks)
    return keys[0] if keys else b""  # with no KEK no answer authenticates: the API refuses to issue anyway


@celery_app.task(name=LOOKUP_ROLES)
def lookup_roles_batch(batch_id: str) -> None:
    """The roles of instances, for synchronous issuances waiting in API processes (api/task_calls.py): each
    call of the batch is ``[call_id, account, region, image, instance]``."""
    state = runtime.current()
    calls = take_calls(state.redis, batch_id)
    valid = [
        call
        for call in calls[:MAX_CALLS_PER_MESSAGE]
        if isinstance(call, list) and len(call) == 5 and all(isinstance(part, str) for part in call)
    ]
    if len(valid) != len(calls):
        log.warning("ignored malformed roles lookups", extra={"calls": len(calls), "valid": len(valid)})
    mac_key = _reply_mac_key(state.settings["keys.keks"])
    if len(valid) > 1 and _lookups_leave_the_process(state.settings):
        # Each answer goes as soon as it is known: one slow answer from Politician or EC2 must not hold up
        # the rest of the batch.
        pending = [_lookup_pool().submit(_answer_lookup, call) for call in valid]
        for answered in as_completed(pending):
            send_replies(state.redis, [answered.result()], mac_key)
    else:
        send_replies(state.redis, [_answer_lookup(call) for call in valid], mac_key)


def _lookups_leave_the_process(settings: Settings) -> bool:
    return bool(settings["politician.ec2_enrichment"]) or settings["politician.provider"] == "http"


@functools.lru_cache(maxsize=1)
def _lookup_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="roles-lookup")


def _answer_lookup(call: list[str]) -> Reply:
    started = time.monotonic()
    call_id, account, region, image, instance = call
    identity = politician.IdentityTuple(account=account, region=region, image=image, instance=instance)
    answer: dict[str, Any]
    try:
        answer = {"roles": list(lookup_roles(runtime.current().settings, identity))}
        outcome = "succeeded"
    except errors.NotaryError as error:
        answer, outcome = {"error": error.to_dict()}, "failed"
    except Exception:
        # The caller must hear at once, not at its timeout; internals stay in the log.
        log.exception("roles lookup failed unexpectedly", extra={"instance": instance})
        answer, outcome = {"error": errors.InternalError().to_dict()}, "failed"
    metrics.record_task(LOOKUP_ROLES, outcome, time.monotonic() - started)
    # Bound to the question as received, so the answer cannot be passed off as another call's.
    return Reply(call_id, [LOOKUP_ROLES, account, region, image, instance], answer)


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


issue_key_job = celery_app.register_task(IssueKeyTask())
renew_key = celery_app.register_task(RenewKeyTask())


def wait_for_spare_cpu(idle: IdleCpu, until: float) -> None:
    """Sleep while the CPUs were nearly all busy since ``idle``'s last reading, but not past ``until``
    (monotonic)."""
    while True:
        share = idle.share_since_last()
        unknown = share is None and not idle.readable
        if unknown or (share is not None and share >= SWEEP_BUSY_BELOW_IDLE) or time.monotonic() >= until:
            return
        time.sleep(SWEEP_IDLE_CHECK_SECONDS)


@celery_app.task(name="keys.sweep")
def sweep() -> dict[str, int]:
    """Beat: delete keys past expiry (after a grace period) and stale access-list entries, in batches so
    verification traffic never waits behind one long transaction."""
    settings = runtime.current().settings
    grace = timedelta(seconds=settings["keys.expiry_grace"])
    deleted_keys = deleted_entries = 0
    idle = IdleCpu()
    while True:
        started = time.monotonic()
        with runtime.current().database.transaction() as session:
            identities, entries = store.sweep(session, utcnow(), grace, SWEEP_BATCH)
        deleted_keys += len(identities)
        deleted_entries += entries
        if len(identities) < SWEEP_BATCH and entries < SWEEP_BATCH:
            break
        busy = time.monotonic() - started
        idle.share_since_last()  # from here: the others' use of the CPUs, not this batch's
        time.sleep(min(busy * (1 - SWEEP_CPU_SHARE) / SWEEP_CPU_SHARE, SWEEP_MAX_PAUSE_SECONDS))
        wait_for_spare_cpu(idle, started + SWEEP_MAX_PAUSE_SECONDS)
    metrics.KEYS_SWEPT.inc(deleted_keys)
    log.info("swept expired keys", extra={"keys": deleted_keys, "access_list_entries": deleted_entries})
    return {"keys": deleted_keys, "access_list_entries": deleted_entries}
