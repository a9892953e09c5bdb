"""The real Go notary client (0.7.0, ``/usr/bin/notary``) against our server: the whole session of
``tests/fixtures/notary/trace.txt`` (init, publish, server-managed snapshot and timestamp keys, a delegation
with an openssl key, key rotations of every role, TOFU and stale readers, remove, delete and re-create),
asserting on what ``notary list`` shows after each step."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.go_client import GoNotary, Target, file_target, require_go_client
from tests.support.processes import NotaryStack

pytestmark = pytest.mark.e2e

require_go_client(openssl=True)

# The access log names the route template; this one is the `N.root.json` lookup of a client catching up.
VERSIONED_ROOT_OK = re.compile(
    r'"route": "/v2/\{gun\}/_trust/tuf/\{version\}\.\{role\}\.json", "status": 200'
)


def client(stack: NotaryStack, tmp_path: Path, name: str) -> GoNotary:
    return GoNotary(stack, tmp_path / "clients" / name)


def payload(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "payloads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(f"payload {name}\n".encode() + os.urandom(64))
    return path


def delegation_key(tmp_path: Path, name: str, kind: str = "ecdsa") -> tuple[Path, Path]:
    """A delegation key and its self-signed certificate, made with openssl as notary's docs do."""
    directory = tmp_path / "delegation-keys"
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / f"{name}.key.pem", directory / f"{name}.crt.pem"
    if kind == "ecdsa":
        generate = ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key)]
    else:
        generate = ["openssl", "genrsa", "-out", str(key), "2048"]
    subprocess.run(generate, check=True, capture_output=True, timeout=60)
    self_signed = ["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(cert), "-days", "365"]
    subprocess.run([*self_signed, "-subj", f"/CN={name}"], check=True, capture_output=True, timeout=60)
    return key, cert


def holds_key(notary: GoNotary, gun: str, role: str) -> bool:
    """Whether the client's key store has a ``role`` key for ``gun`` (a row of ``notary key list``)."""
    return any(line.split()[:2] == [role, gun] for line in notary.run("key", "list").stdout.splitlines())


def versioned_root_fetches(stack: NotaryStack) -> int:
    return len(VERSIONED_ROOT_OK.findall(stack.processes["web"].log_path.read_text(errors="replace")))


def test_go_client_full_session(running_stack: NotaryStack, tmp_path: Path) -> None:
    stack = running_stack
    gun = "example.com/e2e/app"
    publisher = client(stack, tmp_path, "publisher")
    expected: dict[str, Target] = {}

    # 1. init -p: the client uploads root, targets and snapshot; the repository lists empty.
    publisher.run("init", gun, "-p")
    assert publisher.list(gun) == {}
    assert holds_key(publisher, gun, "snapshot"), "init makes the client hold the snapshot key"

    # 2. add v1 -p (client holds the snapshot key: uploads targets + snapshot).
    v1 = payload(tmp_path, "v1")
    publisher.run("add", gun, "v1", str(v1), "-p")
    expected["v1"] = file_target(v1)
    assert publisher.list(gun) == expected
    lookup = publisher.run("lookup", gun, "v1").stdout
    assert expected["v1"].digest in lookup
    # A client whose trust dir predates every rotation below; it must catch up at the end.
    stale = publisher.copy(tmp_path / "clients" / "stale")
    # A pure reader, trusting on first use now.
    reader = client(stack, tmp_path, "reader")
    assert reader.list(gun) == expected

    # 3. Snapshot key to the server (-r): root v2 lists a server key; the next add uploads targets only.
    publisher.run("key", "rotate", gun, "snapshot", "-r")
    assert not holds_key(publisher, gun, "snapshot"), "after -r only the server may hold the snapshot key"
    v2 = payload(tmp_path, "v2")
    publisher.run("add", gun, "v2", str(v2), "-p")
    expected["v2"] = file_target(v2)
    assert publisher.list(gun) == expected

    # 4. Timestamp key rotation (server-managed by definition): listing still verifies, also for the reader
    #    whose cached root predates both rotations.
    publisher.run("key", "rotate", gun, "timestamp", "-r")
    assert publisher.list(gun) == expected
    assert reader.list(gun) == expected

    # 5. A delegation targets/releases with an openssl ECDSA key; v3 published through it.
    deleg_key, deleg_cert = delegation_key(tmp_path, "releases")
    publisher.run("delegation", "add", gun, "targets/releases", str(deleg_cert), "--all-paths", "-p")
    assert "targets/releases" in publisher.run("delegation", "list", gun).stdout
    publisher.run("key", "import", str(deleg_key), "--role", "targets/releases")
    v3 = payload(tmp_path, "v3")
    publisher.run("add", gun, "v3", str(v3), "--roles", "targets/releases", "-p")
    expected["v3"] = file_target(v3, role="targets/releases")
    assert publisher.list(gun) == expected
    assert reader.list(gun) == expected

    # 6. Snapshot key back to the client (no -r): uploads root + snapshot; then the client signs snapshots.
    publisher.run("key", "rotate", gun, "snapshot")
    assert holds_key(publisher, gun, "snapshot")
    v4 = payload(tmp_path, "v4")
    publisher.run("add", gun, "v4", str(v4), "-p")
    expected["v4"] = file_target(v4)
    assert publisher.list(gun) == expected

    # 7. New targets key: uploads root + targets (+ snapshot); publishing keeps working with the new key.
    publisher.run("key", "rotate", gun, "targets")
    assert publisher.list(gun) == expected
    v5 = payload(tmp_path, "v5")
    publisher.run("add", gun, "v5", str(v5), "-p")
    expected["v5"] = file_target(v5)
    assert publisher.list(gun) == expected

    # 8. New root key, twice: the client asks for confirmation; each new root is signed by the previous and
    #    the new root key, so the latest one is no longer signed by the first root key.
    for _ in range(2):
        rotated = publisher.run("key", "rotate", gun, "root", stdin="y\n")
        assert "(yes/no)" in rotated.stdout
        assert "Successfully rotated root key" in rotated.stdout + rotated.stderr
    v6 = payload(tmp_path, "v6")
    publisher.run("add", gun, "v6", str(v6), "-p")
    expected["v6"] = file_target(v6)
    assert publisher.list(gun) == expected
    assert reader.list(gun) == expected

    # 9. A fresh client trusts the current root on first use and sees every target, delegated ones too.
    assert client(stack, tmp_path, "fresh").list(gun) == expected
    #    The stale client (root v1, six versions and two root keys behind) walks N.root.json to catch up.
    before = versioned_root_fetches(stack)
    assert stale.list(gun) == expected
    assert versioned_root_fetches(stack) > before, "the stale client never asked for N.root.json"

    # 10. remove v1 -p; two staged additions sent by one `notary publish`; witness targets -p (re-sign only).
    publisher.run("remove", gun, "v1", "-p")
    del expected["v1"]
    assert publisher.list(gun) == expected
    staged = {name: payload(tmp_path, name) for name in ("v7", "v8")}
    for name, path in staged.items():
        publisher.run("add", gun, name, str(path))
    assert publisher.list(gun) == expected, "staged changes must not be on the server before publish"
    publisher.run("publish", gun)
    expected.update({name: file_target(path) for name, path in staged.items()})
    assert publisher.list(gun) == expected
    publisher.run("witness", gun, "targets", "-p")
    assert publisher.list(gun) == expected
    assert reader.list(gun) == expected

    # 11. delete --remote: nobody finds trust data any more; the GUN can be created again from scratch.
    publisher.run("delete", gun, "--remote")
    publisher.list_fails(gun)
    client(stack, tmp_path, "after-delete").list_fails(gun)
    reborn = client(stack, tmp_path, "reborn")
    reborn.run("init", gun, "-p")
    assert reborn.list(gun) == {}
    again = payload(tmp_path, "again")
    reborn.run("add", gun, "again", str(again), "-p")
    assert reborn.list(gun) == {"again": file_target(again)}
    assert client(stack, tmp_path, "reborn-reader").list(gun) == {"again": file_target(again)}


def test_list_unknown_gun_has_no_trust_data(running_stack: NotaryStack, tmp_path: Path) -> None:
    output = client(running_stack, tmp_path, "nobody").list_fails("example.com/e2e/never-created")
    assert "fatal" in output


def test_rsa_delegation_key(running_stack: NotaryStack, tmp_path: Path) -> None:
    """A delegation whose key is RSA (the client signs it with RSA-PSS), made with `openssl genrsa`."""
    gun = "example.com/e2e/rsa"
    publisher = client(running_stack, tmp_path, "publisher")
    publisher.run("init", gun, "-p")
    key, cert = delegation_key(tmp_path, "rsa-releases", kind="rsa")
    publisher.run("delegation", "add", gun, "targets/releases", str(cert), "--all-paths", "-p")
    publisher.run("key", "import", str(key), "--role", "targets/releases")
    artifact = payload(tmp_path, "artifact")
    publisher.run("add", gun, "artifact", str(artifact), "--roles", "targets/releases", "-p")
    expected = {"artifact": file_target(artifact, role="targets/releases")}
    assert publisher.list(gun) == expected
    assert client(running_stack, tmp_path, "fresh").list(gun) == expected


def test_stale_reader_follows_chained_root_key_rotations(running_stack: NotaryStack, tmp_path: Path) -> None:
    """Three root key rotations, each root signed only by its predecessor's key and its own: a reader that
    cached version 1 can verify the latest root only by walking 2.root.json, 3.root.json, ... in order."""
    gun = "example.com/e2e/roots"
    publisher = client(running_stack, tmp_path, "publisher")
    publisher.run("init", gun, "-p")
    first = payload(tmp_path, "first")
    publisher.run("add", gun, "first", str(first), "-p")
    reader = client(running_stack, tmp_path, "reader")
    assert reader.list(gun) == {"first": file_target(first)}

    for _ in range(3):
        publisher.run("key", "rotate", gun, "root", stdin="y\n")
    second = payload(tmp_path, "second")
    publisher.run("add", gun, "second", str(second), "-p")

    before = versioned_root_fetches(running_stack)
    expected = {"first": file_target(first), "second": file_target(second)}
    assert reader.list(gun) == expected
    assert versioned_root_fetches(running_stack) > before, "the reader never asked for N.root.json"
    assert client(running_stack, tmp_path, "fresh").list(gun) == expected


def test_nested_delegation_then_removed(running_stack: NotaryStack, tmp_path: Path) -> None:
    """targets/releases/beta is signed into targets/releases by the releases key (the server checks it
    against the parent chain from the DB); removing the whole beta role drops its target from listings."""
    gun = "example.com/e2e/nested"
    publisher = client(running_stack, tmp_path, "publisher")
    publisher.run("init", gun, "-p")
    releases_key, releases_cert = delegation_key(tmp_path, "releases")
    beta_key, beta_cert = delegation_key(tmp_path, "beta")
    publisher.run("delegation", "add", gun, "targets/releases", str(releases_cert), "--all-paths", "-p")
    publisher.run("key", "import", str(releases_key), "--role", "targets/releases")
    publisher.run("delegation", "add", gun, "targets/releases/beta", str(beta_cert), "--all-paths", "-p")
    publisher.run("key", "import", str(beta_key), "--role", "targets/releases/beta")
    stable, nightly = payload(tmp_path, "stable"), payload(tmp_path, "nightly")
    publisher.run("add", gun, "stable", str(stable), "--roles", "targets/releases", "-p")
    publisher.run("add", gun, "nightly", str(nightly), "--roles", "targets/releases/beta", "-p")
    expected = {
        "stable": file_target(stable, role="targets/releases"),
        "nightly": file_target(nightly, role="targets/releases/beta"),
    }
    assert publisher.list(gun) == expected
    assert client(running_stack, tmp_path, "fresh").list(gun) == expected

    publisher.run("delegation", "remove", gun, "targets/releases/beta", "-y", "-p")
    del expected["nightly"]
    assert publisher.list(gun) == expected
    assert client(running_stack, tmp_path, "fresh-after-remove").list(gun) == expected
