"""The static provider (workers.politician.StaticProvider): configuration in, roles out, no I/O."""

from __future__ import annotations

import pytest

from notary.keys.politician import IdentityTuple, parse_bindings
from workers.politician import StaticProvider

WEB = IdentityTuple(account="716756199562", region="us-east-1", image="ami-0abc1234", instance="i-0abc")
CONFIG = [
    {"match": {"account": "716756199562", "image": "ami-*"}, "roles": ["web"]},
    {"match": {"region": "us-*"}, "roles": ["us", "web"]},
]


def test_static_provider_from_raw_configuration() -> None:
    assert StaticProvider(CONFIG).roles(WEB) == ("us", "web")


def test_static_provider_from_parsed_bindings() -> None:
    provider = StaticProvider(parse_bindings(CONFIG))
    assert provider.roles(WEB) == ("us", "web")
    assert provider.bindings == parse_bindings(CONFIG)


def test_static_provider_with_no_bindings_grants_nothing() -> None:
    assert StaticProvider([]).roles(WEB) == ()


def test_static_provider_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="unknown match key 'vpc_id'"):
        StaticProvider([{"match": {"vpc_id": "vpc-*"}, "roles": ["x"]}])
