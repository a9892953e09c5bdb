"""``notary-token`` run as the installed console script: dev-cert, passwd and minting."""

from __future__ import annotations

import base64
import stat
import subprocess
import sys
from pathlib import Path

import jwt
from cryptography import x509

from notary.auth.service.users import Users
from notary.auth.trust import libtrust_key_id

SCRIPT = Path(sys.executable).with_name("notary-token")


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), f"{SCRIPT} is not installed (run scripts/setup)"
    return subprocess.run(
        [str(SCRIPT), *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def dev_cert(directory: Path, *extra: str) -> tuple[Path, Path]:
    result = run("dev-cert", "-out", str(directory), *extra)
    assert result.returncode == 0, result.stderr
    return directory / "token.key", directory / "token.crt"


def mint(key: Path, cert: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "-key", str(key), "-cert", str(cert), "-issuer", "dev-issuer", "-service", "dev-service",
        "-subject", "alice", *extra,
    )  # fmt: skip


def test_dev_cert_then_mint_a_token_the_certificate_verifies(tmp_path: Path) -> None:
    key, cert = dev_cert(tmp_path / "certs")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    result = mint(
        key, cert, "-scope", "repository:foo/bar:push,pull", "-scope", "registry:catalog:*", "-ttl", "90"
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] == libtrust_key_id(certificate.public_key())
    assert x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0])) == certificate
    claims = jwt.decode(
        token, certificate.public_key(), algorithms=["ES256"], audience="dev-service", issuer="dev-issuer"
    )
    assert claims["sub"] == "alice"
    assert claims["exp"] - claims["iat"] == 90
    assert claims["access"] == [
        {"type": "repository", "name": "foo/bar", "actions": ["push", "pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_an_rsa_dev_cert_mints_rs256(tmp_path: Path) -> None:
    key, cert = dev_cert(tmp_path, "-rsa")
    token = mint(key, cert, "--scope", "repository:a:pull").stdout.strip()
    public_key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    assert jwt.decode(token, public_key, algorithms=["RS256"], audience="dev-service")["sub"] == "alice"


def test_dev_cert_never_overwrites_a_key(tmp_path: Path) -> None:
    key, _ = dev_cert(tmp_path)
    before = key.read_bytes()
    result = run("dev-cert", "-out", str(tmp_path))
    assert result.returncode == 1
    assert "not overwriting" in result.stderr
    assert key.read_bytes() == before


def test_bad_mint_arguments(tmp_path: Path) -> None:
    key, cert = dev_cert(tmp_path)
    bad_scope = mint(key, cert, "-scope", "repository:nope")
    assert bad_scope.returncode == 2
    assert "type:name:actions" in bad_scope.stderr
    assert mint(key, cert, "-ttl", "0").returncode == 2
    wrong_pair = mint(cert, cert)
    assert wrong_pair.returncode == 1
    assert "private key" in wrong_pair.stderr
    missing = mint(tmp_path / "absent.key", cert)
    assert missing.returncode == 1
    assert "absent.key" in missing.stderr
    assert run().returncode == 2


def test_passwd_adds_and_replaces_users_from_stdin(tmp_path: Path) -> None:
    users_file = tmp_path / "users.htpasswd"
    assert run("passwd", "alice", "-file", str(users_file), "-cost", "4", stdin="first pw\n").returncode == 0
    assert run("passwd", "bob", "-file", str(users_file), "-cost", "4", stdin="bob pw\n").returncode == 0
    assert run("passwd", "alice", "-file", str(users_file), "-cost", "4", stdin="second pw\n").returncode == 0
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    text = users_file.read_text()
    assert [line.split(":")[0] for line in text.splitlines()] == ["alice", "bob"]
    assert "pw" not in text
    users = Users.parse(text)
    assert users.authenticate("alice", b"second pw")
    assert not users.authenticate("alice", b"first pw")
    assert users.authenticate("bob", b"bob pw")


def test_passwd_prints_the_line_without_a_file(tmp_path: Path) -> None:
    result = run("passwd", "carol", "-cost", "4", stdin="carol pw")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("carol:$2y$04$")
    assert Users.parse(result.stdout).authenticate("carol", b"carol pw")


def test_passwd_refuses_bad_input(tmp_path: Path) -> None:
    assert "empty" in run("passwd", "dave", "-cost", "4", stdin="\n").stderr
    assert "longer than 72" in run("passwd", "dave", "-cost", "4", stdin="x" * 73).stderr
    reserved = run("passwd", "@anonymous", "-file", str(tmp_path / "u"), "-cost", "4", stdin="pw")
    assert reserved.returncode == 1
    assert not (tmp_path / "u").exists()
