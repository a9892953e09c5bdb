"""A worked example of the shared-key service on the embedded setup (see the README).

    python scripts/shared_keys_demo.py setup data        # a demo CA playing AWS, and the env that trusts it
    python scripts/shared_keys_demo.py issue URL INSTANCE OUT.json
    python scripts/shared_keys_demo.py verify URL CLIENT.json VERIFIER.json

The demo CA stands in for AWS's instance-identity certificate: never pin it outside a demo.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from notary.client.auth import NotaryHttpxAuth
from notary.keys import signature

ACCOUNT = "123456789012"
VERIFIER_INSTANCE = "i-00000000000000001"


def setup(data_dir: Path) -> None:
    demo = data_dir / "demo-ca"
    demo.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "demo instance identity (not AWS)")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    (demo / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = demo / "key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    bindings = [
        {"match": {"account": ACCOUNT}, "roles": ["web"]},
        {"match": {"instance": VERIFIER_INSTANCE}, "roles": ["notary:verify"]},
    ]
    kek = base64.b64encode(os.urandom(32)).decode()
    env = data_dir / "shared-keys.env"
    env.write_text(
        f"NOTARY_SERVER_KEYS_KEKS=demo:{kek}\n"
        f"NOTARY_SERVER_KEYS_PINNED_CERTIFICATES={(demo / 'cert.pem').resolve()}\n"
        f"NOTARY_SERVER_POLITICIAN_BINDINGS='{json.dumps(bindings)}'\n"
    )
    env.chmod(0o600)
    print(f"wrote {demo}/cert.pem, {key_file} and {env}")


def issue(url: str, instance: str, out: Path, data_dir: Path) -> None:
    demo = data_dir / "demo-ca"
    cert = x509.load_pem_x509_certificate((demo / "cert.pem").read_bytes())
    key = serialization.load_pem_private_key((demo / "key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    document = json.dumps(
        {
            "accountId": ACCOUNT,
            "region": "us-east-1",
            "imageId": "ami-0123456789abcdef0",
            "instanceId": instance,
            "pendingTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "availabilityZone": "us-east-1a",
        }
    ).encode()
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(document)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCerts])
    )
    body = {"document": document.decode(), "signature": base64.encodebytes(signed).decode()}
    response = httpx.post(f"{url}/v1/keys", json=body, timeout=60)
    if response.status_code != 201:
        sys.exit(f"issuance failed: {response.status_code} {response.text}")
    out.write_text(response.text)
    out.chmod(0o600)
    key_document = response.json()
    print(f"issued {key_document['identity']} with roles {key_document['roles']}; key saved in {out}")


def verify(url: str, client_file: Path, verifier_file: Path) -> None:
    """Sign a request as the client, then ask Notary, as the verifying service, whether it is genuine."""
    client = json.loads(client_file.read_text())
    forwarded = signature.sign_request(
        "GET",
        "/orders?id=7",
        "shop.internal",
        b"",
        client["identity"],
        client["secret"],
        int(time.time() * 1000),
    )
    print("the client sends:", json.dumps(forwarded, indent=2))
    verifier = json.loads(verifier_file.read_text())
    question = signature.SignedRequest.from_headers(
        "GET", "/orders?id=7", {**forwarded, "Host": "shop.internal"}
    ).forwarded()
    answer = httpx.post(
        f"{url}/v1/verify",
        json=question,
        timeout=30,
        auth=NotaryHttpxAuth(verifier["identity"], verifier["secret"]),
    )
    print("Notary answers:", answer.status_code, answer.text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup").add_argument("data_dir", type=Path)
    issuing = commands.add_parser("issue")
    issuing.add_argument("url")
    issuing.add_argument("instance")
    issuing.add_argument("out", type=Path)
    issuing.add_argument("--data-dir", type=Path, default=Path("data"))
    verifying = commands.add_parser("verify")
    verifying.add_argument("url")
    verifying.add_argument("client", type=Path)
    verifying.add_argument("verifier", type=Path)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.data_dir)
    elif args.command == "issue":
        issue(args.url, args.instance, args.out, args.data_dir)
    else:
        verify(args.url, args.client, args.verifier)


if __name__ == "__main__":
    main()
