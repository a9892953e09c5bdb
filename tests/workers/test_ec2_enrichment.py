"""The EC2 lookup against a local stand-in of the EC2 API: VPC and autoscaling group are filled in, an
instance we cannot see stays unenriched, and an unreachable API is ROLES_UNAVAILABLE, never fewer roles."""

from __future__ import annotations

import boto3
import pytest

from notary.keys.politician import IdentityTuple, RolesUnavailableError
from tests.support.ec2_standin import GROUP, REGION, Ec2StandIn, ec2_standin  # noqa: F401
from tests.support.servers import find_free_port
from workers.ec2_enrichment import AUTOSCALING_GROUP_TAG, Ec2Enricher


def _identity(instance: str) -> IdentityTuple:
    return IdentityTuple(account="716756199562", region=REGION, image="ami-12345678", instance=instance)


def test_fills_in_the_vpc_and_the_autoscaling_group(ec2_standin: Ec2StandIn) -> None:  # noqa: F811
    enricher = Ec2Enricher(endpoint_url=ec2_standin.url)
    enriched = enricher.enrich(_identity(ec2_standin.instance))
    assert (enriched.vpc, enriched.autoscaling_group) == (ec2_standin.vpc, GROUP)
    assert enriched.instance == ec2_standin.instance

    lone = enricher.enrich(_identity(ec2_standin.lone_instance))
    assert (lone.vpc, lone.autoscaling_group) == (ec2_standin.vpc, None)


def test_an_instance_we_cannot_see_keeps_no_vpc_or_group(ec2_standin: Ec2StandIn) -> None:  # noqa: F811
    unseen = Ec2Enricher(endpoint_url=ec2_standin.url).enrich(_identity("i-0123456789abcdef0"))
    assert (unseen.vpc, unseen.autoscaling_group) == (None, None)


def test_an_unreachable_api_is_unavailable_not_unenriched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stand-in")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in")
    closed = f"http://127.0.0.1:{find_free_port()}"
    enricher = Ec2Enricher(endpoint_url=closed, timeout=0.5, retries=1)
    with pytest.raises(RolesUnavailableError):
        enricher.enrich(_identity("i-0123456789abcdef0"))


def test_answers_are_cached_briefly(ec2_standin: Ec2StandIn) -> None:  # noqa: F811
    now = [0.0]
    enricher = Ec2Enricher(endpoint_url=ec2_standin.url, cache_seconds=30, clock=lambda: now[0])
    lone = _identity(ec2_standin.lone_instance)
    assert enricher.enrich(lone).autoscaling_group is None

    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=ec2_standin.url)
    ec2.create_tags(Resources=[lone.instance], Tags=[{"Key": AUTOSCALING_GROUP_TAG, "Value": "joined"}])
    now[0] = 29.0
    assert enricher.enrich(lone).autoscaling_group is None
    now[0] = 31.0
    assert enricher.enrich(lone).autoscaling_group == "joined"
