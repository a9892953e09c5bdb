"""POST {T}/ refusals (contract §2.3, §2.5): every error code and validation rule, each with its exact
code (and for INVALID_UPDATE the detail Name and message), and nothing stored afterwards."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes

from tests.api.tuf_helpers import (
    assert_empty,
    assert_error,
    assert_invalid_update,
    assert_nothing_stored,
    new_repo,
    post_raw,
    publish,
    published,
    running_stack,
    server_key,
    sha256_hex,
    signed_by,
    state,
    tuf,
    unique_gun,
    version_of,
)
from tests.support.processes import NotaryStack
from tests.support.tuf_builder import (
    Delegation,
    Key,
    Repo,
    encode_file,
    multipart,
    root_signed,
    sign_file,
    signatures_for,
    snapshot_signed,
    targets_signed,
    timestamp_signed,
)

PREFIXES = ["a/", "b/"]
PAST = datetime.now(UTC) - timedelta(days=2)
NO_LEAF = "could not validate the path to a trusted root: unable to retrieve valid leaf certificates"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    with running_stack(
        tmp_path_factory.mktemp("tuf-validation"), repositories={"gun_prefixes": PREFIXES}
    ) as stack:
        yield stack


@pytest.fixture
def gun(request: pytest.FixtureRequest) -> str:
    """A GUN of its own for every test (inside the configured prefixes)."""
    return unique_gun(request, "a/v/")


def raw_multipart(parts: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body from (header block, content) pairs, for parts the builder cannot express."""
    boundary = secrets.token_hex(30)
    body = b""
    for headers, content in parts:
        body += b"--" + boundary.encode() + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f"multipart/form-data; boundary={boundary}"


def file_part(filename: str, content: bytes) -> tuple[bytes, bytes]:
    return (
        f'Content-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream".encode(),
        content,
    )


def init_files(
    gun: str,
    timestamp_key: Key,
    *,
    root_key: Key | None = None,
    root_signers: list[Key] | None = None,
    root_expires: datetime | None = None,
) -> dict[str, bytes]:
    """root, targets and snapshot of a new repository, with a client snapshot key."""
    root_key = root_key or Key.root_certificate(gun)
    targets_key, snapshot_key = Key.generate(), Key.generate()
    root = sign_file(
        root_signed(
            root_keys=[root_key],
            targets_keys=[targets_key],
            snapshot_keys=[snapshot_key],
            timestamp_keys=[timestamp_key],
            expires=root_expires,
        ),
        [root_key] if root_signers is None else root_signers,
    )
    targets = sign_file(targets_signed(), [targets_key])
    snapshot = sign_file(snapshot_signed({"root": root, "targets": targets}), [snapshot_key])
    return {"root": root, "targets": targets, "snapshot": snapshot}


def snapshot_for(repo: Repo, files: dict[str, bytes], *, expires: datetime | None = None) -> bytes:
    """A client snapshot (next version) over the repo's latest root/targets/delegations and ``files``."""
    assert repo.snapshot_key is not None
    covered = {role: data for role, data in {**repo.files, **files}.items() if role != "snapshot"}
    version = repo.versions["snapshot"] + 1
    return sign_file(snapshot_signed(covered, version=version, expires=expires), [repo.snapshot_key])


# --------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "headers",
    [
        b'Content-Disposition: form-data; name="files"; filename=""',
        b'Content-Disposition: form-data; name="files"',
        b"Content-Type: application/octet-stream",
    ],
    ids=["empty-filename", "no-filename", "no-content-disposition"],
)
def test_part_without_filename_is_no_filename(client: httpx.Client, gun: str, headers: bytes) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    update = repo.add_target("v1", b"one")
    body, content_type = raw_multipart(
        [file_part("targets", update["targets"]), (headers, update["snapshot"])]
    )
    response = post_raw(client, gun, body, content_type)
    assert_error(response, 400, "NO_FILENAME")
    assert_nothing_stored(client, gun, before, update)


@pytest.mark.parametrize(
    ("filename", "role"),
    [
        ("targets/BAD", "targets/BAD"),
        ("foo", "foo"),
        ("foo.json", "foo"),
        ("targets/../x", "targets/../x"),
        ("targets/./x", "targets/./x"),
        ("targets//x", "targets//x"),
        ("targets/x/", "targets/x/"),
        ("targets/", "targets/"),
        ("Targets", "Targets"),
        ("targets/a b", "targets/a b"),
        ("releases", "releases"),
        ("targets/" + "a" * 248, "targets/" + "a" * 248),
    ],
)
def test_invalid_role_name_is_invalid_role_with_the_role_as_detail(
    client: httpx.Client, gun: str, filename: str, role: str
) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    update = repo.add_target("v1", b"one")
    response = publish(client, gun, [*update.items(), (filename, update["targets"])])
    assert_error(response, 400, "INVALID_ROLE", detail=role)
    assert_nothing_stored(client, gun, before, update)


def test_longest_valid_delegation_name_is_not_an_invalid_role(client: httpx.Client, gun: str) -> None:
    """255 characters is still a role name (so the 256-character case above fails for its length)."""
    repo = new_repo(client, gun)
    name = "targets/" + "a" * 247
    response = publish(client, gun, {name: repo.files["targets"]})
    assert_invalid_update(response, "ErrBadTargets", f"tuf: invalid role {name}. delegation does not exist")


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"",
        b"[]",
        b'{"foo": 1}',
        b'{"signed": {"_type": "Targets", "expires": "2030-01-01T00:00:00Z", "version": 2}}',
        b'{"signatures": []}',
        b'{"signed": {"_type": "Targets", "expires": "2030-01-01T00:00:00Z"}, "signatures": []}',
        b'{"signed": {"_type": "Targets", "version": 2}, "signatures": []}',
        b'{"signed": {"expires": "2030-01-01T00:00:00Z", "version": 2}, "signatures": []}',
        b'{"signed": {"_type": "Targets", "expires": "2030-01-01T00:00:00Z", "version": "2"},'
        b' "signatures": []}',
        b'{"signed": {"_type": "Targets", "expires": "2030-01-01T00:00:00Z", "version": 2},'
        b' "signatures": {}}',
    ],
    ids=[
        "not-json",
        "empty",
        "array",
        "no-signed",
        "no-signatures",
        "only-signatures",
        "no-version",
        "no-expires",
        "no-type",
        "string-version",
        "signatures-object",
    ],
)
def test_undecodable_part_is_malformed_json(client: httpx.Client, gun: str, content: bytes) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    update = repo.add_target("v1", b"one")
    # A valid part first: nothing of the update may be stored when a later part is malformed.
    response = publish(client, gun, [("snapshot", update["snapshot"]), ("targets", content)])
    assert_error(response, 400, "MALFORMED_JSON")
    assert_nothing_stored(client, gun, before, update)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"targets": {}}'),
        ("text/plain", b"hello"),
        (None, b"raw bytes"),
        ("application/x-www-form-urlencoded", b"files=abc"),
        ("multipart/form-data; boundary=zzz", b"this is not a multipart body at all"),
    ],
    ids=["json", "text", "no-content-type", "form", "garbage"],
)
def test_non_multipart_body_is_malformed_upload(
    client: httpx.Client, gun: str, content_type: str | None, body: bytes
) -> None:
    response = post_raw(client, gun, body, content_type)
    assert_error(response, 400, "MALFORMED_UPLOAD")
    assert_empty(client, gun)


def test_multipart_without_a_boundary_is_malformed_upload(client: httpx.Client, gun: str) -> None:
    response = post_raw(client, gun, b"--x\r\n\r\n--x--\r\n", "multipart/form-data")
    assert_error(response, 400, "MALFORMED_UPLOAD")
    assert_empty(client, gun)


def test_multipart_mixed_upload_is_accepted(client: httpx.Client, gun: str) -> None:
    files = Repo(gun).init(server_key(client, gun))
    body, content_type = multipart(files)
    response = post_raw(client, gun, body, content_type.replace("multipart/form-data", "multipart/mixed"))
    assert response.status_code == 200, response.text
    assert client.get(tuf(gun, "root.json")).content == files["root"]


# --------------------------------------------------------------------------------------------- root


def test_update_without_any_root_is_err_validation(client: httpx.Client, gun: str) -> None:
    targets_key = Key.generate()
    files = {"targets": sign_file(targets_signed(), [targets_key])}
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrValidation", "no pre-existing root and no root provided in update.")
    assert_empty(client, gun, files)


@pytest.mark.parametrize(("new_version", "current"), [(3, 1), (5, 1)])
def test_root_version_must_be_current_or_next(
    client: httpx.Client, gun: str, new_version: int, current: int
) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    repo.versions["root"] = new_version - 1
    update = repo.publish("root")
    response = publish(client, gun, update)
    assert_invalid_update(
        response,
        "ErrBadRoot",
        f"Root modifications must increment the version. Current {current}, new {new_version}",
    )
    assert_nothing_stored(client, gun, before, update)


def test_root_version_rule_also_applies_to_a_lower_version(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    published(client, gun, repo.rotate_root())  # root 2
    before = state(client, gun)
    repo.versions["root"] = 0
    update = repo.publish("root", signers={"root": [repo.root_key]})
    response = publish(client, gun, update)
    assert_invalid_update(
        response, "ErrBadRoot", "Root modifications must increment the version. Current 2, new 1"
    )
    assert_nothing_stored(client, gun, before, update)


def _bad_root_keys() -> dict[str, Callable[[str], Key]]:
    return {
        "plain-ecdsa": lambda gun: Key.generate(),
        "cn-is-another-gun": lambda gun: Key.root_certificate(gun + "x"),
        "ca-certificate": lambda gun: Key.root_certificate(gun, is_ca=True),
        "expired-certificate": lambda gun: Key.root_certificate(gun, not_after=PAST),
        "not-yet-valid": lambda gun: Key.root_certificate(
            gun,
            not_before=datetime.now(UTC) + timedelta(days=3),
            not_after=datetime.now(UTC) + timedelta(days=300),
        ),
        "sha1-certificate": lambda gun: Key.root_certificate(gun, hash_algorithm=hashes.SHA1()),
        "rsa-1024": lambda gun: Key.root_certificate(gun, "rsa", rsa_bits=1024),
    }


@pytest.mark.parametrize("kind", list(_bad_root_keys()))
def test_unusable_root_key_is_err_bad_root(client: httpx.Client, gun: str, kind: str) -> None:
    root_key = _bad_root_keys()[kind](gun)
    files = Repo(gun, root_key=root_key).init(server_key(client, gun))
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrBadRoot", NO_LEAF)
    assert_empty(client, gun, files)


@pytest.mark.parametrize("kind", ["ecdsa", "rsa", "wildcard-cn", "starts-within-a-day"])
def test_good_x509_root_keys_are_accepted(client: httpx.Client, gun: str, kind: str) -> None:
    """The controls of the refusals above: proper certificates of either family, a CN ending in ``*``
    that prefixes the GUN, and a notBefore within the one-day leeway."""
    if kind == "wildcard-cn":
        root_key = Key.root_certificate(gun[: gun.rindex("/") + 1] + "*")
    elif kind == "starts-within-a-day":
        root_key = Key.root_certificate(gun, not_before=datetime.now(UTC) + timedelta(hours=12))
    else:
        root_key = Key.root_certificate(gun, kind)
    repo = Repo(gun, root_key=root_key)
    published(client, gun, repo.init(server_key(client, gun)))
    assert client.get(tuf(gun, "root.json")).content == repo.files["root"]


def _break_root(signed: dict[str, Any], how: str) -> None:
    roles: dict[str, Any] = signed["roles"]
    if how == "wrong-type":
        signed["_type"] = "Targets"
    elif how == "version-0":
        signed["version"] = 0
    elif how == "missing-timestamp-role":
        del roles["timestamp"]
    elif how == "threshold-0":
        roles["targets"]["threshold"] = 0
    elif how == "keyid-without-key":
        roles["snapshot"]["keyids"] = ["0" * 64]
    elif how == "roles-not-an-object":
        signed["roles"] = []


@pytest.mark.parametrize(
    "how",
    [
        "wrong-type",
        "version-0",
        "missing-timestamp-role",
        "threshold-0",
        "keyid-without-key",
        "roles-not-an-object",
    ],
)
def test_malformed_root_is_err_bad_root(client: httpx.Client, gun: str, how: str) -> None:
    root_key, targets_key, snapshot_key = Key.root_certificate(gun), Key.generate(), Key.generate()
    signed = root_signed(
        root_keys=[root_key],
        targets_keys=[targets_key],
        snapshot_keys=[snapshot_key],
        timestamp_keys=[server_key(client, gun)],
    )
    _break_root(signed, how)
    root = sign_file(signed, [root_key])
    targets = sign_file(targets_signed(), [targets_key])
    snapshot = sign_file(snapshot_signed({"root": root, "targets": targets}), [snapshot_key])
    files = {"root": root, "targets": targets, "snapshot": snapshot}
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrBadRoot", "root type metadata invalid")
    assert_empty(client, gun, files)


@pytest.mark.parametrize(
    ("role", "how"), [("targets", "wrong-type"), ("targets", "version-0"), ("snapshot", "wrong-type")]
)
def test_malformed_targets_or_snapshot_is_refused(
    client: httpx.Client, gun: str, role: str, how: str
) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    targets_body = targets_signed(targets={"v1": b"one"}, version=2)
    if role == "targets" and how == "wrong-type":
        targets_body["_type"] = "Snapshot"
    if role == "targets" and how == "version-0":
        targets_body["version"] = 0
    targets = sign_file(targets_body, [repo.targets_key])
    assert repo.snapshot_key is not None
    snapshot_body = snapshot_signed({"root": repo.files["root"], "targets": targets}, version=2)
    if role == "snapshot":
        snapshot_body["_type"] = "Timestamp"
    update = {"targets": targets, "snapshot": sign_file(snapshot_body, [repo.snapshot_key])}
    response = publish(client, gun, update)
    name = "ErrBadTargets" if role == "targets" else "ErrBadSnapshot"
    assert_invalid_update(response, name, f"{role} type metadata invalid")
    assert_nothing_stored(client, gun, before, update)


def test_expired_root_is_err_bad_root(client: httpx.Client, gun: str) -> None:
    files = init_files(gun, server_key(client, gun), root_expires=PAST)
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrBadRoot", "root expired at")
    assert_empty(client, gun, files)


@pytest.mark.parametrize("signer", ["nobody", "another-key"])
def test_root_without_its_own_signature_is_err_bad_root(client: httpx.Client, gun: str, signer: str) -> None:
    signers = [] if signer == "nobody" else [Key.root_certificate(gun)]
    files = init_files(gun, server_key(client, gun), root_signers=signers)
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrBadRoot", "could not validate the path to a trusted root")
    assert_empty(client, gun, files)


def test_root_rotation_without_the_old_key_is_err_bad_root(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    repo.root_key = Key.root_certificate(gun)
    update = repo.publish("root", signers={"root": [repo.root_key]})
    response = publish(client, gun, update)
    assert_invalid_update(
        response,
        "ErrBadRoot",
        "could not rotate trust to a new trusted root: failed to validate data with current trusted "
        "certificates",
    )
    assert_nothing_stored(client, gun, before, update)


def test_root_rotation_signed_by_old_and_new_keys_is_accepted(client: httpx.Client, gun: str) -> None:
    """The control of the refusal above."""
    repo = new_repo(client, gun)
    update = repo.rotate_root()
    published(client, gun, update)
    assert client.get(tuf(gun, "2.root.json")).content == update["root"]


@pytest.mark.parametrize("whose", ["client-made", "another-guns-server-key"])
def test_root_with_a_timestamp_key_the_server_lacks_is_err_bad_root(
    client: httpx.Client, gun: str, whose: str
) -> None:
    timestamp_key = Key.generate() if whose == "client-made" else server_key(client, gun + "-other")
    files = Repo(gun).init(timestamp_key)
    response = publish(client, gun, files)
    assert_invalid_update(response, "ErrBadRoot", "no timestamp keys exist on the server")
    assert_empty(client, gun, files)


# ------------------------------------------------------------------------------------------ targets


def test_targets_signed_by_the_wrong_key_is_err_bad_targets(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    repo.targets["targets"]["v1"] = b"one"
    update = repo.publish("targets", signers={"targets": [Key.generate()]})
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadTargets", "valid signatures did not meet threshold for targets")
    assert_nothing_stored(client, gun, before, update)


@pytest.mark.parametrize("signers", ["same-key-twice", "both-keys"])
def test_threshold_counts_distinct_keys(client: httpx.Client, gun: str, signers: str) -> None:
    root_key, snapshot_key = Key.root_certificate(gun), Key.generate()
    first, second = Key.generate(), Key.generate()
    root = sign_file(
        root_signed(
            root_keys=[root_key],
            targets_keys=[first, second],
            snapshot_keys=[snapshot_key],
            timestamp_keys=[server_key(client, gun)],
            thresholds={"targets": 2},
        ),
        [root_key],
    )
    targets = sign_file(targets_signed(), [first, first] if signers == "same-key-twice" else [first, second])
    snapshot = sign_file(snapshot_signed({"root": root, "targets": targets}), [snapshot_key])
    files = {"root": root, "targets": targets, "snapshot": snapshot}
    response = publish(client, gun, files)
    if signers == "both-keys":
        assert response.status_code == 200, response.text
        return
    assert_invalid_update(response, "ErrBadTargets", "valid signatures did not meet threshold for targets")
    assert_empty(client, gun, files)


def test_signature_methods_are_case_insensitive(client: httpx.Client, gun: str) -> None:
    """notary lower-cases ``method`` on read, so ``ECDSA`` verifies (the control of the threshold tests)."""
    repo = new_repo(client, gun)
    signed = targets_signed(targets={"v1": b"one"}, version=2)
    signatures = [
        dict(entry, method=entry["method"].upper()) for entry in signatures_for(signed, [repo.targets_key])
    ]
    targets = encode_file(signed, signatures)
    assert b'"method":"ECDSA"' in targets
    published(client, gun, {"targets": targets, "snapshot": snapshot_for(repo, {"targets": targets})})
    assert client.get(tuf(gun, "targets.json")).content == targets


def test_expired_targets_is_err_bad_targets(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    targets = sign_file(targets_signed(version=2, expires=PAST), [repo.targets_key])
    update = {"targets": targets, "snapshot": snapshot_for(repo, {"targets": targets})}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadTargets", "targets expired at")
    assert_nothing_stored(client, gun, before, update)


def test_delegation_whose_parent_does_not_exist_is_err_bad_targets(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    key = Key.generate()
    deep = sign_file(targets_signed(targets={"x": b"x"}), [key])
    update = {"targets/x/y": deep, "snapshot": snapshot_for(repo, {"targets/x/y": deep})}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadTargets", "delegation does not exist")
    assert_nothing_stored(client, gun, before, update)


def test_delegation_whose_parent_does_not_exist_names_the_uploaded_role(
    client: httpx.Client, gun: str
) -> None:
    repo = new_repo(client, gun)
    deep = sign_file(targets_signed(targets={"x": b"x"}), [Key.generate()])
    update = {"targets/x/y": deep, "snapshot": snapshot_for(repo, {"targets/x/y": deep})}
    response = publish(client, gun, update)
    assert_invalid_update(
        response, "ErrBadTargets", "tuf: invalid role targets/x/y. delegation does not exist"
    )


def test_delegation_its_parent_does_not_declare_is_err_bad_targets(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    published(client, gun, repo.add_delegation("targets/releases", Key.generate()))
    before = state(client, gun)
    undeclared = sign_file(targets_signed(targets={"x": b"x"}), [Key.generate()])
    update = {"targets/other": undeclared, "snapshot": snapshot_for(repo, {"targets/other": undeclared})}
    response = publish(client, gun, update)
    assert_invalid_update(
        response, "ErrBadTargets", "tuf: invalid role targets/other. delegation does not exist"
    )
    assert_nothing_stored(client, gun, before, update)


def test_delegation_signed_by_a_key_its_parent_does_not_list_is_err_bad_targets(
    client: httpx.Client, gun: str
) -> None:
    repo = new_repo(client, gun)
    published(client, gun, repo.add_delegation("targets/releases", Key.generate()))
    before = state(client, gun)
    update = repo.publish_delegation_target("targets/releases", "v1", b"one", signers=[Key.generate()])
    response = publish(client, gun, update)
    assert_invalid_update(
        response, "ErrBadTargets", "valid signatures did not meet threshold for targets/releases"
    )
    assert_nothing_stored(client, gun, before, update)


# ----------------------------------------------------------------------------------------- snapshot


def test_snapshot_signed_by_the_wrong_key_is_err_bad_snapshot(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    repo.targets["targets"]["v1"] = b"one"
    update = repo.publish("targets", signers={"snapshot": [Key.generate()]})
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "valid signatures did not meet threshold for snapshot")
    assert_nothing_stored(client, gun, before, update)


def test_expired_snapshot_is_err_bad_snapshot(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    targets = sign_file(targets_signed(targets={"v1": b"one"}, version=2), [repo.targets_key])
    update = {"targets": targets, "snapshot": snapshot_for(repo, {"targets": targets}, expires=PAST)}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "snapshot expired at")
    assert_nothing_stored(client, gun, before, update)


def test_snapshot_with_a_wrong_targets_hash_is_err_bad_snapshot(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    targets = sign_file(targets_signed(targets={"v1": b"one"}, version=2), [repo.targets_key])
    other = sign_file(targets_signed(targets={"v1": b"two"}, version=2), [repo.targets_key])
    update = {"targets": targets, "snapshot": snapshot_for(repo, {"targets": other})}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "sha256 checksum for targets did not match")
    assert_nothing_stored(client, gun, before, update)


def test_snapshot_must_match_the_stored_parent_of_an_uploaded_delegation(
    client: httpx.Client, gun: str
) -> None:
    """The parent ``targets`` is loaded from the store and checked against the uploaded snapshot too."""
    repo = new_repo(client, gun)
    delegation_key = Key.generate()
    published(client, gun, repo.add_delegation("targets/releases", delegation_key))
    before = state(client, gun)
    release = sign_file(targets_signed(targets={"v1": b"one"}), [delegation_key])
    wrong_parent = sign_file(targets_signed(version=9), [repo.targets_key])
    update = {
        "targets/releases": release,
        "snapshot": snapshot_for(repo, {"targets/releases": release, "targets": wrong_parent}),
    }
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "sha256 checksum for targets did not match")
    assert_nothing_stored(client, gun, before, update)


def test_snapshot_without_root_meta_is_err_bad_snapshot(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    targets = sign_file(targets_signed(targets={"v1": b"one"}, version=2), [repo.targets_key])
    assert repo.snapshot_key is not None
    snapshot = sign_file(snapshot_signed({"targets": targets}, version=2), [repo.snapshot_key])
    update = {"targets": targets, "snapshot": snapshot}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "missing root sha256 checksum information")
    assert_nothing_stored(client, gun, before, update)


def test_init_without_a_snapshot_while_the_client_holds_its_key_is_err_bad_hierarchy(
    client: httpx.Client, gun: str
) -> None:
    files = Repo(gun).init(server_key(client, gun))
    del files["snapshot"]
    response = publish(client, gun, files)
    assert_error(
        response,
        400,
        "INVALID_UPDATE",
        detail={
            "Name": "ErrBadHierarchy",
            "Error": {
                "Missing": "snapshot",
                "Msg": "no snapshot was included in update and server does not hold current snapshot key "
                "for repository",
            },
        },
    )
    assert_empty(client, gun, files)


@pytest.mark.parametrize("with_timestamp", [False, True], ids=["targets-only", "targets-and-timestamp"])
def test_update_without_a_snapshot_while_the_client_holds_its_key_is_err_bad_hierarchy(
    client: httpx.Client, gun: str, with_timestamp: bool
) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    update = repo.add_target("v1", b"one")
    sent = {"targets": update["targets"]}
    if with_timestamp:
        # An uploaded timestamp is ignored: it does not stand in for the missing snapshot.
        assert repo.snapshot_key is not None
        sent["timestamp"] = sign_file(timestamp_signed(update["snapshot"], version=5), [repo.snapshot_key])
    response = publish(client, gun, sent)
    error = assert_invalid_update(response, "ErrBadHierarchy", "no snapshot was included in update")
    assert error["detail"]["Error"]["Missing"] == "snapshot"
    assert_nothing_stored(client, gun, before, sent)


def test_client_signed_snapshot_is_refused_while_the_server_holds_the_snapshot_key(
    client: httpx.Client, gun: str
) -> None:
    repo = new_repo(client, gun, server_snapshot=True)
    before = state(client, gun)
    client_key = Key.generate()
    repo.targets["targets"]["v1"] = b"one"
    repo.versions["targets"] += 1
    targets = sign_file(
        targets_signed(targets=repo.targets["targets"], version=repo.versions["targets"]), [repo.targets_key]
    )
    snapshot = sign_file(
        snapshot_signed({"root": repo.files["root"], "targets": targets}, version=10), [client_key]
    )
    update = {"targets": targets, "snapshot": snapshot}
    response = publish(client, gun, update)
    assert_invalid_update(response, "ErrBadSnapshot", "valid signatures did not meet threshold for snapshot")
    assert_nothing_stored(client, gun, before, update)


# ------------------------------------------------------------------------------------------ version


def test_reuploading_the_same_targets_version_is_version(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    published(client, gun, repo.add_target("v1", b"one"))  # targets 2, snapshot 2
    before = state(client, gun)
    repo.versions["targets"] = 1
    update = repo.add_target("v2", b"two")  # targets 2 again (new content), snapshot 3
    assert version_of(update["targets"]) == 2
    response = publish(client, gun, update)
    assert_error(response, 400, "VERSION", detail={})
    assert_nothing_stored(client, gun, before, update)


def test_reuploading_the_same_root_version_passes_validation_then_is_version(
    client: httpx.Client, gun: str
) -> None:
    repo = new_repo(client, gun)
    before = state(client, gun)
    repo.versions["root"] = 0
    update = repo.publish("root")  # root 1 again (a different signature), snapshot 2
    response = publish(client, gun, update)
    assert_error(response, 400, "VERSION", detail={})
    assert_nothing_stored(client, gun, before, update)


def test_reuploading_an_old_snapshot_version_is_version(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    published(client, gun, repo.add_target("v1", b"one"))  # snapshot 2
    before = state(client, gun)
    repo.versions["snapshot"] = 0
    update = repo.add_target("v2", b"two")  # targets 3, snapshot 1
    response = publish(client, gun, update)
    assert_error(response, 400, "VERSION", detail={})
    assert_nothing_stored(client, gun, before, update)


# ---------------------------------------------------------------------------------------- timestamp


def test_uploaded_timestamp_is_ignored(client: httpx.Client, gun: str) -> None:
    repo = new_repo(client, gun)
    update = repo.add_target("v1", b"one")
    assert repo.snapshot_key is not None
    uploaded = sign_file(timestamp_signed(update["snapshot"], version=50), [repo.snapshot_key])
    published(client, gun, {**update, "timestamp": uploaded})

    served = client.get(tuf(gun, "timestamp.json")).content
    assert served != uploaded
    assert version_of(served) == 2, "the server's own timestamp, one up"
    assert signed_by(served, "timestamp", server_key(client, gun))
    assert not signed_by(served, "timestamp", repo.snapshot_key)
    assert client.get(tuf(gun, f"timestamp.{sha256_hex(uploaded)}.json")).status_code == 404
    assert client.get(tuf(gun, "50.timestamp.json")).status_code == 404
    assert client.get(tuf(gun, "snapshot.json")).content == update["snapshot"]


# --------------------------------------------------------------------------------------- GUN prefix


def test_post_outside_the_gun_prefixes_is_invalid_gun(client: httpx.Client) -> None:
    gun = f"c/outside-{secrets.token_hex(3)}"
    files = Repo(gun).init(Key.generate())
    response = publish(client, gun, files)
    assert_error(response, 400, "INVALID_GUN", detail="Require GUNs with prefix: [a/ b/]")
    for path in ("root.json", "timestamp.json", "2.root.json", "timestamp.key", "snapshot.key"):
        miss = client.get(tuf(gun, path))
        assert_error(miss, 404, "METADATA_NOT_FOUND")
    assert_error(client.delete(tuf(gun)), 404, "METADATA_NOT_FOUND")
    assert_error(client.post(tuf(gun, "timestamp.key")), 404, "METADATA_NOT_FOUND")
    assert_error(
        client.get(f"/v2/{gun}/_trust/changefeed", params={"records": "10"}), 404, "METADATA_NOT_FOUND"
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_post_inside_each_gun_prefix_is_accepted(client: httpx.Client, prefix: str) -> None:
    gun = f"{prefix}inside-{secrets.token_hex(3)}"
    new_repo(client, gun)
    assert client.get(tuf(gun, "root.json")).status_code == 200


# ----------------------------------------------------------------------------------- body size


def _padded_targets(key: Key, size: int) -> bytes:
    """A signed targets file of at least ``size`` bytes."""
    names = {f"target-{i:04d}": b"x" for i in range(max(1, size // 150))}
    data = sign_file(targets_signed(targets=names), [key])
    assert len(data) >= size
    return data


def test_oversized_bodies_and_parts_are_413(stack: NotaryStack) -> None:
    stack.write_config(limits={"max_upload_bytes": 4096, "max_part_bytes": 1024})
    stack.start_all()
    gun = "example.com/limits"
    key = Key.generate()
    small = sign_file(targets_signed(), [key])
    with stack.client() as client:
        # Under both limits: the upload is read and validated (no root here).
        control = publish(client, gun, {"targets": small})
        assert_invalid_update(control, "ErrValidation", "no pre-existing root")

        # One part above max_part_bytes, the whole body well under max_upload_bytes.
        big_part = _padded_targets(key, 1500)
        response = publish(client, gun, {"targets": big_part})
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

        # A body above max_upload_bytes (declared Content-Length), every part under max_part_bytes.
        parts = [("targets", small)] * 16
        body, content_type = multipart(parts)
        assert len(body) > 4096
        response = publish(client, gun, parts)
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")

        # The same body streamed without a Content-Length (chunked).
        assert len(body) > 4096
        chunks = iter([body[i : i + 500] for i in range(0, len(body), 500)])
        response = client.post(tuf(gun), content=chunks, headers={"Content-Type": content_type})
        assert "content-length" not in response.request.headers
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")
        assert_empty(client, gun)


# ---------------------------------------------------------------------------------- short bodies


@pytest.mark.parametrize("what", ["long-role-name", "long-target-path"])
def test_400_bodies_stay_under_1kib_for_long_client_input(client: httpx.Client, gun: str, what: str) -> None:
    repo = new_repo(client, gun)
    if what == "long-role-name":
        response = publish(client, gun, {"targets/" + "a" * 2000: repo.files["targets"]})
    else:
        signed = targets_signed(version=2)
        signed["targets"] = {"p" * 2000: {"length": 1}}  # no hashes: invalid
        targets = sign_file(signed, [repo.targets_key])
        update = {"targets": targets, "snapshot": snapshot_for(repo, {"targets": targets})}
        response = publish(client, gun, update)
    assert response.status_code == 400
    assert len(response.content) < 1024, len(response.content)


def test_multipart_of_the_go_client_with_json_suffixes_is_accepted(client: httpx.Client, gun: str) -> None:
    """The control of the parse errors: filenames with ``.json`` are stripped to the role name."""
    files = Repo(gun).init(server_key(client, gun))
    response = publish(client, gun, {f"{role}.json": data for role, data in files.items()})
    assert response.status_code == 200, response.text
    assert client.get(tuf(gun, "root.json")).content == files["root"]


def test_delegation_with_unlisted_paths_is_accepted(client: httpx.Client, gun: str) -> None:
    """Delegation ``paths`` are not enforced server-side (spec §2.5.2)."""
    repo = new_repo(client, gun)
    key = Key.generate()
    published(client, gun, repo.add_delegation("targets/releases", key, paths=["releases/"]))
    update = repo.publish_delegation_target("targets/releases", "elsewhere/file", b"data")
    published(client, gun, update)
    assert client.get(tuf(gun, "targets/releases.json")).content == update["targets/releases"]
    assert json.loads(update["targets/releases"])["signed"]["targets"]["elsewhere/file"]["length"] == 4


def test_delegation_declared_in_the_same_update_is_accepted(client: httpx.Client, gun: str) -> None:
    """Shallowest first: a parent uploaded together with its new delegation vouches for it."""
    repo = new_repo(client, gun)
    key = Key.generate()
    repo.delegations["targets/releases"] = Delegation("targets/releases", [key])
    repo.targets["targets/releases"] = {"v1": b"one"}
    update = repo.publish("targets", "targets/releases")
    published(client, gun, update)
    assert client.get(tuf(gun, "targets/releases.json")).content == update["targets/releases"]


def test_versions_may_jump(client: httpx.Client, gun: str) -> None:
    """Only monotonicity is enforced: targets may go from 1 to 11 (the control of the VERSION tests)."""
    repo = new_repo(client, gun)
    repo.versions["targets"] = 10
    update = repo.add_target("v1", b"one")
    published(client, gun, update)
    assert version_of(client.get(tuf(gun, "targets.json")).content) == 11
    assert client.get(tuf(gun, "11.targets.json")).content == update["targets"]
