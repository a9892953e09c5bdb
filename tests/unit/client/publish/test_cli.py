"""``notary-publish`` run in-process against the scripted server: what it sends, prints and exits with."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from notary.client.publish import cli
from notary.client.publish.layout import scan
from notary.client.publish.payload import idempotency_key
from tests.support.trust_dir import initial_files, write_repository
from tests.support.tuf_builder import Key, sign_file, targets_signed
from tests.unit.client.publish.scripted import Reply, ScriptedServer, failed, job, published
from tests.unit.client.servers import closed_port_url

BULK = "/v1/bulk/publish"
JOB = "/v1/jobs/j1"
ACCEPTED = Reply(202, job("j1", "queued"), {"Location": JOB})
GOOD = ("example.com/a", "example.com/b")
ALL_PUBLISHED = job("j1", "succeeded", (2, 2, 0), result={"repositories": [published(g) for g in GOOD]})
MIXED = job(
    "j1",
    "succeeded",
    (2, 2, 1),
    result={
        "repositories": [
            published(GOOD[0]),
            failed(GOOD[1], "INVALID_UPDATE", "Update sent by the client is invalid."),
        ]
    },
)


@pytest.fixture
def trust_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tuf"
    timestamp_key = Key.generate()
    for gun in GOOD:
        write_repository(root, gun, initial_files(gun, timestamp_key))
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_push_sends_one_json_job_and_reports_success(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    scripted.on("GET", JOB, Reply(200, job("j1", "running", (1, 2, 0))), Reply(200, ALL_PUBLISHED))

    code, out, err = run(capsys, "push", str(trust_dir), "--server", scripted.url)

    assert code == 0, err
    assert out == "Job j1: 2 of 2 repositories published, 0 failed.\n"
    key = idempotency_key(scan(trust_dir), None)
    assert f"Submitted 2 repositories as job j1 (Idempotency-Key {key})." in err
    assert "job j1: succeeded, 2/2 done, 0 failed" in err  # plain lines: stderr is no terminal here
    [post] = scripted.requests_to("POST", BULK)
    assert post.headers["Idempotency-Key"] == key
    assert post.headers["Content-Type"] == "application/json"
    sent = json.loads(post.body)["repositories"]
    assert [entry["gun"] for entry in sent] == list(GOOD)
    on_disk = (trust_dir / "example.com" / "a" / "metadata" / "root.json").read_bytes()
    assert sent[0]["files"]["root"].encode() == on_disk


def test_a_failed_repository_exits_1_with_a_table(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    scripted.on("GET", JOB, Reply(200, MIXED))
    code, out, _ = run(capsys, "push", str(trust_dir), "--server", scripted.url)
    assert code == 1
    assert "1 of 2 repositories published, 1 failed." in out
    [row] = [line for line in out.splitlines() if GOOD[1] in line]
    assert "INVALID_UPDATE" in row


def test_json_mode_prints_only_the_job_document(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    scripted.on("GET", JOB, Reply(200, job("j1", "running", (1, 2, 0))), Reply(200, MIXED))
    code, out, err = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--json")
    assert code == 1
    assert json.loads(out) == MIXED
    assert err == ""


def test_no_wait_prints_the_job_id_for_scripts(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    code, out, _ = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--no-wait")
    assert (code, out) == (0, "j1\n")
    assert scripted.requests_to("GET", JOB) == []
    code, out, _ = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--no-wait", "--json")
    assert (code, json.loads(out)) == (0, job("j1", "queued"))


def test_an_explicit_idempotency_key(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    run(capsys, "push", str(trust_dir), "--server", scripted.url, "--no-wait", "--idempotency-key", "run-42")
    assert scripted.seen[0].headers["Idempotency-Key"] == "run-42"


def test_a_bad_layout_exits_2_and_sends_nothing(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (trust_dir / "example.com" / "a" / "metadata" / "root.json").write_bytes(b"not json")
    code, out, err = run(capsys, "push", str(trust_dir), "--server", scripted.url)
    assert code == 2
    assert out == ""
    assert err.startswith("notary-publish: example.com/a: metadata/root.json: not JSON")
    code, out, _ = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--json")
    [error] = json.loads(out)["errors"]
    assert error["code"] == "INVALID_LAYOUT"
    assert error["detail"]["problems"][0].startswith("example.com/a: metadata/root.json")
    assert scripted.seen == []


def test_a_large_batch_goes_as_tar_and_falls_back_to_json(
    scripted: ScriptedServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = sign_file(targets_signed(targets={"blob": b"x"}) | {"padding": "p" * cli.TAR_THRESHOLD}, [])
    write_repository(tmp_path, "example.com/big", {"targets": big})
    refused = Reply(415, {"errors": [{"code": "UNSUPPORTED_MEDIA_TYPE", "message": "json only"}]})
    scripted.on("POST", BULK, refused, ACCEPTED)
    code, out, err = run(capsys, "push", str(tmp_path), "--server", scripted.url, "--no-wait")
    assert (code, out) == (0, "j1\n")
    assert "The server takes no tar upload; sending JSON instead." in err
    tar_post, json_post = scripted.requests_to("POST", BULK)
    assert tar_post.headers["Content-Type"] == "application/x-tar"
    assert int(tar_post.headers["Content-Length"]) == len(tar_post.body)  # streamed from a file, sized
    with tarfile.open(fileobj=io.BytesIO(tar_post.body)) as archive:
        assert archive.getnames() == ["example.com/big/_trust/tuf/targets.json"]
    assert json_post.headers["Content-Type"] == "application/json"
    assert tar_post.headers["Idempotency-Key"] == json_post.headers["Idempotency-Key"]


def test_forced_tar_is_not_replaced(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, Reply(415, {"errors": [{"code": "UNSUPPORTED_MEDIA_TYPE", "message": "no"}]}))
    code, _, err = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--format", "tar")
    assert code == 2
    assert "415 UNSUPPORTED_MEDIA_TYPE" in err
    assert len(scripted.seen) == 1


@pytest.mark.parametrize(
    ("document", "expected_code", "expected_out"),
    [
        (ALL_PUBLISHED, 0, "Job j1: 2 of 2 repositories published, 0 failed.\n"),
        (
            job("j1", "failed", error={"code": "UNKNOWN", "message": "unknown error"}),
            4,
            "Job j1 failed: UNKNOWN",
        ),
        (job("j1", "running", (1, 2, 0)), 5, "job j1: running, 1/2 done, 0 failed\n"),
    ],
)
def test_status_exit_codes(
    scripted: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
    document: dict[str, object],
    expected_code: int,
    expected_out: str,
) -> None:
    scripted.on("GET", JOB, Reply(200, document))
    code, out, _ = run(capsys, "status", "j1", "--server", scripted.url)
    assert code == expected_code
    assert out.startswith(expected_out)
    assert len(scripted.seen) == 1  # status reads once


def test_wait_follows_and_times_out_with_5(
    scripted: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("GET", JOB, Reply(200, job("j1", "running", (1, 2, 0))))
    code, out, _ = run(capsys, "wait", "j1", "--server", scripted.url, "--timeout", "0.5")
    assert code == 5
    assert out == "job j1: running, 1/2 done, 0 failed\n"
    assert len(scripted.seen) >= 2


def test_an_unknown_job_exits_2(scripted: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    scripted.on(
        "GET", "/v1/jobs/nope", Reply(404, {"errors": [{"code": "JOB_NOT_FOUND", "message": "no job"}]})
    )
    code, out, _ = run(capsys, "wait", "nope", "--server", scripted.url, "--json")
    assert code == 2
    assert json.loads(out)["errors"][0] == {
        "code": "JOB_NOT_FOUND",
        "message": f"{scripted.url} has no job 'nope' (no job)",
    }
    code, _, err = run(capsys, "wait", "nope", "--server", scripted.url)
    assert code == 2
    assert err == f"notary-publish: {scripted.url} has no job 'nope' (no job)\n"  # nothing to resume


def test_a_rerun_that_finds_its_job_says_so(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, Reply(200, ALL_PUBLISHED, {"Location": JOB}))  # the key's job, already done
    scripted.on("GET", JOB, Reply(200, ALL_PUBLISHED))
    code, out, err = run(capsys, "push", str(trust_dir), "--server", scripted.url)
    assert code == 0
    assert err.startswith("These 2 repositories were already submitted as job j1.\n")
    assert out == "Job j1: 2 of 2 repositories published, 0 failed.\n"


def test_a_server_lost_after_submission_exits_3_naming_the_job(
    scripted: ScriptedServer, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.on("POST", BULK, ACCEPTED)
    scripted.on("GET", JOB, Reply(500, {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}))
    code, _, err = run(capsys, "push", str(trust_dir), "--server", scripted.url, "--retries", "2")
    assert code == 3
    assert "answered 500 UNKNOWN" in err
    assert "follow it with: notary-publish wait j1" in err
    assert len(scripted.requests_to("GET", JOB)) == 2


def test_unreachable_and_unauthorized_exit_3(
    scripted: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "status", "j1", "--server", closed_port_url(), "--retries", "1")
    assert code == 3
    assert "cannot reach" in err
    scripted.on(
        "GET", JOB, Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
    )
    code, _, err = run(capsys, "status", "j1", "--server", scripted.url, "--token", "t0ken")
    assert code == 3
    assert "pass --token or set NOTARY_TOKEN" in err
    assert scripted.seen[0].headers["Authorization"] == "Bearer t0ken"
    assert "t0ken" not in err


def test_the_token_from_the_environment(
    scripted: ScriptedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cli.TOKEN_ENV, "from-env")
    monkeypatch.setenv(cli.SERVER_ENV, scripted.url)
    scripted.on("GET", JOB, Reply(200, ALL_PUBLISHED))
    assert run(capsys, "status", "j1")[0] == 0
    assert scripted.seen[0].headers["Authorization"] == "Bearer from-env"


@pytest.mark.parametrize(
    "argv",
    [
        ["push"],
        ["status", "j1", "--server", "ftp://x"],
        ["status", "j1", "--tlscert", "/etc/hostname"],
        ["status", "j1", "--tlscacert", "/nonexistent.pem"],
        ["wait", "j1", "--timeout", "0"],
        ["push", ".", "--idempotency-key", "two\nlines"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(argv)
    assert caught.value.code == 2
    assert capsys.readouterr().err.startswith("usage: notary-publish")


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("notary-publish")
    assert script.exists(), "run scripts/setup so that notary-publish exists"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0
    assert "push" in result.stdout
