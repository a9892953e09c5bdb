"""The request bodies keep every file's exact bytes; the Idempotency-Key follows the content and only it."""

from __future__ import annotations

import io
import json
import tarfile

from notary.client.publish.layout import Repository
from notary.client.publish.payload import idempotency_key, json_body, write_tar

PRETTY = '{\n  "signed": {"_type": "Targets", "note": "caf\u00e9 \u2713"},\n  "signatures": []\n}\n'.encode()
APP = Repository("example.com/app", {"root": b'{"signed":{}}', "targets": PRETTY})
LIB = Repository("example.com/lib", {"targets/releases": b'{"signed":{"x":1}}'})


def test_the_key_is_a_sha256_of_the_content_whatever_the_order() -> None:
    key = idempotency_key([APP, LIB], None)
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert idempotency_key([LIB, APP], None) == key
    assert idempotency_key([Repository(APP.gun, dict(APP.files)), LIB], None) == key


def test_the_key_changes_with_any_byte_gun_role_or_callback() -> None:
    key = idempotency_key([APP, LIB], None)
    variants = [
        [Repository(APP.gun, {**APP.files, "root": b'{"signed":{} }'}), LIB],
        [Repository("example.com/app2", APP.files), LIB],
        [APP, Repository(LIB.gun, {"targets/other": LIB.files["targets/releases"]})],
        [APP],
    ]
    keys = {idempotency_key(repositories, None) for repositories in variants}
    keys.add(idempotency_key([APP, LIB], "https://hooks.example.com/a"))
    assert key not in keys
    assert len(keys) == len(variants) + 1


def test_json_carries_the_exact_bytes_as_strings() -> None:
    body = json_body([APP, LIB], "https://hooks.example.com/a")
    assert body.isascii()
    document = json.loads(body)
    assert document["callback_url"] == "https://hooks.example.com/a"
    assert [entry["gun"] for entry in document["repositories"]] == [APP.gun, LIB.gun]
    targets = document["repositories"][0]["files"]["targets"]
    assert isinstance(targets, str)
    assert targets.encode("utf-8") == PRETTY  # what the server stores: not re-serialised
    assert "callback_url" not in json.loads(json_body([APP], None))
    assert json_body([APP, LIB], None) == json_body([APP, LIB], None)


def test_tar_entries_are_v2_paths_with_fixed_metadata() -> None:
    first, second = io.BytesIO(), io.BytesIO()
    write_tar([APP, LIB], first)
    write_tar([APP, LIB], second)
    assert first.getvalue() == second.getvalue()  # deterministic: a retry sends the same body
    with tarfile.open(fileobj=first) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == [
            "example.com/app/_trust/tuf/root.json",
            "example.com/app/_trust/tuf/targets.json",
            "example.com/lib/_trust/tuf/targets/releases.json",
        ]
        assert {(m.mtime, m.mode, m.isfile()) for m in members} == {(0, 0o644, True)}
        extracted = archive.extractfile(members[1])
        assert extracted is not None
        assert extracted.read() == PRETTY


def test_tar_takes_names_longer_than_ustar_allows() -> None:
    gun = "registry.example.com/" + "/".join(["segment"] * 20)
    out = io.BytesIO()
    write_tar([Repository(gun, {"root": b"{}"})], out)
    with tarfile.open(fileobj=out) as archive:
        assert archive.getnames() == [f"{gun}/_trust/tuf/root.json"]
