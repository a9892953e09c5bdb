"""``notary-publish`` (the installed console script) against a live server: API, worker and signer.

Good and bad repositories in one push (exit 1, a failures table naming the bad GUN and its code, the good
ones readable); an all-good push (exit 0); ``--no-wait`` then ``wait``, and a re-run that finds the same job
through the content-derived Idempotency-Key instead of publishing twice; the trust directory the real Go
client leaves behind is read as it is.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from notary.client.publish.layout import scan
from tests.api.tuf_helpers import changefeed_path, running_stack, server_key, tuf
from tests.support.go_client import NOTARY_BIN, GoNotary
from tests.support.processes import NotaryStack
from tests.support.trust_dir import initial_files, write_repository
from tests.support.tuf_builder import Key

pytestmark = pytest.mark.e2e

COMMAND = str(Path(sys.executable).with_name("notary-publish"))
SUBMITTED = re.compile(r"as job (?P<id>[0-9a-f]+) ")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NotaryStack]:
    with running_stack(tmp_path_factory.mktemp("publish-cli")) as running:
        yield running


@pytest.fixture
def client(stack: NotaryStack) -> Iterator[httpx.Client]:
    with stack.client() as http:
        yield http


def notary_publish(stack: NotaryStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTARY_")}
    env.update({"NO_PROXY": "*", "no_proxy": "*", "COLUMNS": "200"})
    return subprocess.run(
        [COMMAND, *args, "--server", stack.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def readable(client: httpx.Client, gun: str) -> bool:
    response = client.get(tuf(gun, "timestamp.json"))
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def test_good_and_bad_repositories(stack: NotaryStack, client: httpx.Client, tmp_path: Path) -> None:
    good = ["cli/mixed/good-1", "cli/mixed/good-2"]
    bad = "cli/mixed/unknown-timestamp-key"
    for gun in good:
        write_repository(tmp_path, gun, initial_files(gun, server_key(client, gun)))
    write_repository(tmp_path, bad, initial_files(bad, Key.generate()))  # not the server's timestamp key

    result = notary_publish(stack, "push", str(tmp_path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Job " in result.stdout
    assert "2 of 3 repositories published, 1 failed." in result.stdout
    assert "Failed repositories" in result.stdout
    [row] = [line for line in result.stdout.splitlines() if bad in line]
    assert "INVALID_UPDATE" in row
    assert "succeeded, 3/3 done, 1 failed" in result.stderr  # plain progress lines: stderr is a pipe
    assert all(readable(client, gun) for gun in good)
    assert not readable(client, bad)


def test_all_good_with_no_wait_then_wait_then_an_idempotent_rerun(
    stack: NotaryStack, client: httpx.Client, tmp_path: Path
) -> None:
    guns = [f"cli/good/app-{n}" for n in range(3)]
    for gun in guns:
        write_repository(tmp_path, gun, initial_files(gun, server_key(client, gun)))

    submitted = notary_publish(stack, "push", str(tmp_path), "--no-wait")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()

    waited = notary_publish(stack, "wait", job_id)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert f"Job {job_id}: 3 of 3 repositories published, 0 failed." in waited.stdout
    assert all(readable(client, gun) for gun in guns)

    rerun = notary_publish(stack, "push", str(tmp_path), "--json")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    document = json.loads(rerun.stdout)
    assert document["id"] == job_id  # the same job: nothing was published twice
    assert [entry["state"] for entry in document["result"]["repositories"]] == ["published"] * 3
    for gun in guns:
        feed = client.get(changefeed_path(gun), params={"records": "100"}).json()["records"]
        assert len(feed) == 1, feed

    status = notary_publish(stack, "status", job_id, "--json")
    assert status.returncode == 0
    assert json.loads(status.stdout)["progress"] == {"done": 3, "total": 3, "failed": 0}


def test_a_bad_directory_is_refused_before_anything_is_sent(stack: NotaryStack, tmp_path: Path) -> None:
    write_repository(tmp_path, "cli/broken", {"root": b"{not json"})
    result = notary_publish(stack, "push", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("notary-publish: cli/broken: metadata/root.json: not JSON")


@pytest.mark.skipif(not NOTARY_BIN.exists(), reason=f"the Go notary client ({NOTARY_BIN}) is not installed")
def test_the_go_clients_trust_directory_is_read_as_it_is(
    stack: NotaryStack, client: httpx.Client, tmp_path: Path
) -> None:
    gun = "cli/go/app"
    go = GoNotary(stack, tmp_path / "go")
    go.run("init", gun, "-p")
    go.run("list", gun)  # the cache then holds what the server serves (init -p caches its pre-publish files)

    [repository] = scan(go.trust_dir / "tuf")

    assert repository.gun == gun
    assert (go.trust_dir / "tuf" / gun / "metadata" / "timestamp.json").is_file()
    assert list(repository.files) == ["root", "targets", "snapshot"]  # timestamp.json is never sent
    for role, data in repository.files.items():
        assert client.get(tuf(gun, f"{role}.json")).content == data, role
