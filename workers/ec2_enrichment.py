"""The optional EC2 lookup of shared-keys.md section 4: the VPC and autoscaling group of an instance are
not in its identity document, so ``DescribeInstances`` fills them in before the roles are looked up.

Credentials come from boto3's usual chain (the Notary host's instance profile in production). Failure modes:

* the EC2 API cannot be reached, times out, throttles past the retries, or refuses our credentials:
  :class:`RolesUnavailableError` (``503 ROLES_UNAVAILABLE``), because binding roles to a VPC or group we
  could not read would silently issue a key with fewer roles than it should have;
* the instance is not visible to our credentials (another account, or already terminated): the fields stay
  ``None``, which never matches a binding, so the key gets only the roles that don't depend on them.

Answers are cached briefly per (region, instance), like the http Politician's.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notary.keys.politician import IdentityTuple, RolesUnavailableError

log = logging.getLogger("notary.politician")

AUTOSCALING_GROUP_TAG: Final = "aws:autoscaling:groupName"
NOT_VISIBLE_CODES: Final = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})
CACHE_ENTRIES: Final = 10_000


@dataclasses.dataclass(frozen=True)
class InstanceFacts:
    vpc: str | None
    autoscaling_group: str | None


class Ec2Enricher:
    """Adds ``vpc`` and ``autoscaling_group`` to identity tuples. ``endpoint_url`` points at a stand-in of
    the EC2 API (tests) or a VPC endpoint; ``None`` means AWS's regional endpoint."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        timeout: float = 2.0,
        retries: int = 3,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.config = Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": retries + 1, "mode": "standard"},
        )
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._clients: dict[str, Any] = {}
        self._cache: OrderedDict[tuple[str, str], tuple[float, InstanceFacts]] = OrderedDict()
        self._lock = threading.Lock()

    def enrich(self, identity: IdentityTuple) -> IdentityTuple:
        facts = self.facts(identity.region, identity.instance)
        return dataclasses.replace(identity, vpc=facts.vpc, autoscaling_group=facts.autoscaling_group)

    def facts(self, region: str, instance: str) -> InstanceFacts:
        key = (region, instance)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        found = self._describe(region, instance)
        if self.cache_seconds > 0:
            with self._lock:
                self._cache[key] = (self._clock() + self.cache_seconds, found)
                self._cache.move_to_end(key)
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return found

    def _describe(self, region: str, instance: str) -> InstanceFacts:
        try:
            answer = self._client(region).describe_instances(InstanceIds=[instance])
        except ClientError as failure:
            code = failure.response.get("Error", {}).get("Code", "")
            if code in NOT_VISIBLE_CODES:
                log.warning(
                    "instance not visible to EC2 lookup", extra={"instance": instance, "region": region}
                )
                return InstanceFacts(None, None)
            log.error("EC2 lookup refused", extra={"instance": instance, "region": region, "code": code})
            raise RolesUnavailableError(f"EC2 DescribeInstances failed: {code}") from None
        except BotoCoreError as failure:
            log.error(
                "EC2 lookup failed", extra={"instance": instance, "region": region, "error": str(failure)}
            )
            raise RolesUnavailableError("EC2 DescribeInstances failed") from None
        for reservation in answer.get("Reservations", []):
            for found in reservation.get("Instances", []):
                if found.get("InstanceId") == instance:
                    tags = {tag.get("Key"): tag.get("Value") for tag in found.get("Tags", [])}
                    return InstanceFacts(found.get("VpcId") or None, tags.get(AUTOSCALING_GROUP_TAG) or None)
        return InstanceFacts(None, None)

    def _client(self, region: str) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                # boto3's default session is not thread-safe; a session of our own per client is.
                session = boto3.session.Session()
                client = session.client(
                    "ec2", region_name=region, endpoint_url=self.endpoint_url, config=self.config
                )
                self._clients[region] = client
            return client
