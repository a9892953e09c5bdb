"""A stand-in for AWS's instance-identity signing: a certificate (pinned in the server's config in tests and
benchmarks) that signs identity documents into PKCS7, as the instance metadata service serves them."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from .certificates import certificate, rsa_key

ACCOUNT = "716756199562"


class InstanceIdentityAuthority:
    """Plays AWS: a signing certificate (pinned in the server's config) that signs identity documents."""

    def __init__(self) -> None:
        self.key = rsa_key()
        self.cert = certificate("test instance identity", self.key)

    def document(self, instance: str, pending: datetime, account: str = ACCOUNT) -> bytes:
        return json.dumps(
            {
                "accountId": account,
                "region": "us-east-1",
                "imageId": "ami-bcbffad6",
                "instanceId": instance,
                "pendingTime": pending.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "availabilityZone": "us-east-1a",
                "instanceType": "t2.small",
                "architecture": "x86_64",
                "privateIp": "10.0.0.1",
            },
            indent=2,
        ).encode()

    def pkcs7(self, content: bytes) -> str:
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.cert, self.key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCerts])
        )
        return base64.encodebytes(signed).decode()
