"""Issuance with the EC2 lookup on: static bindings can grant roles by VPC and autoscaling group, read
from a local stand-in of the EC2 API by the worker that looks the roles up."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives import serialization

from tests.support.ec2_standin import GROUP, Ec2StandIn, ec2_standin  # noqa: F401
from tests.support.instance_identity import InstanceIdentityAuthority
from tests.support.processes import NotaryStack, new_kek


def test_roles_bound_to_the_vpc_and_autoscaling_group(
    stack: NotaryStack,
    ec2_standin: Ec2StandIn,  # noqa: F811
) -> None:
    authority = InstanceIdentityAuthority()
    pinned = stack.root / "pinned.pem"
    pinned.write_bytes(authority.cert.public_bytes(serialization.Encoding.PEM))
    stack.write_config(
        keys={"dc": "test-dc", "keks": [new_kek()], "pinned_certificates": [str(pinned)]},
        politician={
            "ec2_enrichment": True,
            "ec2_endpoint_url": ec2_standin.url,
            "bindings": [
                {"match": {"image": "ami-*"}, "roles": ["fleet"]},
                {"match": {"vpc": ec2_standin.vpc, "autoscaling_group": GROUP}, "roles": ["web"]},
            ],
        },
    )
    stack.start_all()

    def roles_of(instance: str) -> list[str]:
        document = authority.document(instance, datetime(2026, 1, 1, tzinfo=UTC))
        with stack.client() as client:
            answer = client.post(
                "/v1/keys", json={"document": document.decode(), "signature": authority.pkcs7(document)}
            )
        assert answer.status_code == 201, answer.text
        roles: list[str] = answer.json()["roles"]
        return roles

    assert roles_of(ec2_standin.instance) == ["fleet", "web"]
    assert roles_of(ec2_standin.lone_instance) == ["fleet"]
