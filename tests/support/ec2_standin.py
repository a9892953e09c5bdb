"""A local stand-in for the EC2 API (moto's server on 127.0.0.1) with one VPC and one autoscaling group
whose single instance is what the enrichment tests look up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"  # the region of the identity documents in tests.support.instance_identity
GROUP = "web-asg"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "stand-in",
    "AWS_SECRET_ACCESS_KEY": "stand-in",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Ec2StandIn:
    url: str
    vpc: str
    instance: str
    lone_instance: str  # in the VPC, in no autoscaling group


@pytest.fixture
def ec2_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ec2StandIn]:
    """Also puts stand-in credentials in the environment, so processes started by the test inherit them."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=url)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        image = ec2.describe_images()["Images"][0]["ImageId"]
        autoscaling = boto3.client("autoscaling", region_name=REGION, endpoint_url=url)
        autoscaling.create_launch_configuration(
            LaunchConfigurationName="web", ImageId=image, InstanceType="t3.micro"
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=GROUP,
            LaunchConfigurationName="web",
            MinSize=1,
            MaxSize=1,
            VPCZoneIdentifier=subnet,
        )
        (member,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]
        lone = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet)["Instances"][0]
        yield Ec2StandIn(url, vpc, member["InstanceId"], lone["InstanceId"])
    finally:
        server.stop()
