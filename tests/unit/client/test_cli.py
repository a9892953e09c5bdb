"""``notary-sign`` end to end: a subprocess with the secret in an environment variable (or a file), against
the capturing server that verifies every request with ``notary.keys.signature.verify``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notary.client import cli
from notary.keys.signature import EMPTY_BODY_DIGEST, body_digest
from tests.unit.client.servers import CLIENT, CaptureServer, closed_port_url

SECRET_VAR = "NOTARY_SIGN_TEST_SECRET"
_SCRIPT = Path(sys.executable).with_name("notary-sign")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "notary.client.cli"]


def run(
    *args: str, secret: str | None = CLIENT.secret, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != SECRET_VAR}
    env.update({"NO_PROXY": "*", "no_proxy": "*"})
    if secret is not None:
        env[SECRET_VAR] = secret
    result = subprocess.run(
        [*COMMAND, *args],
        env=env,
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert CLIENT.secret not in result.stdout + result.stderr, "the secret was printed"
    return result


def signed(*args: str) -> list[str]:
    return ["--identity", CLIENT.identity, "--secret-env", SECRET_VAR, *args]


def test_the_console_script_is_installed() -> None:
    assert _SCRIPT.exists(), "run `.venv/bin/pip install -e .` so that notary-sign exists"


def test_get_with_a_raw_query(capture: CaptureServer) -> None:
    result = run(*signed(capture.url + "/v1/things?a=1&b=%20x"))
    assert result.returncode == 0, result.stderr
    status_line, _, body = result.stdout.partition("\n")
    assert status_line == "HTTP/1.1 200 OK"
    assert json.loads(body)["identity"] == CLIENT.identity
    got = capture.last
    assert got.request_line == "GET /v1/things?a=1&b=%20x HTTP/1.1"
    assert got.headers["Host"] == f"127.0.0.1:{capture.port}"
    assert got.headers["Digest"] == EMPTY_BODY_DIGEST
    assert got.verify() == CLIENT.identity


def test_post_data_with_headers(capture: CaptureServer) -> None:
    data = '{"amount": 10}'
    result = run(
        *signed("-X", "POST", "-d", data, "-H", "Content-Type: application/json", capture.url + "/v1/pay")
    )
    assert result.returncode == 0, result.stderr
    got = capture.last
    assert (got.method, got.body) == ("POST", data.encode())
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Digest"] == body_digest(data.encode())
    assert got.verify() == CLIENT.identity


def test_data_implies_post_and_data_file_is_sent_as_is(capture: CaptureServer, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4
    (tmp_path / "body.bin").write_bytes(payload)
    result = run(*signed("--data-file", str(tmp_path / "body.bin"), capture.url + "/v1/blob"))
    assert result.returncode == 0, result.stderr
    assert (capture.last.method, capture.last.body) == ("POST", payload)
    assert capture.last.verify() == CLIENT.identity


def test_data_from_stdin(capture: CaptureServer) -> None:
    result = run(*signed("-X", "PUT", "--data-file", "-", capture.url + "/v1/blob"), stdin=b"from stdin")
    assert result.returncode == 0, result.stderr
    assert capture.last.body == b"from stdin"


def test_secret_file(capture: CaptureServer, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(CLIENT.secret + "\n")
    secret_file.chmod(0o600)
    result = run(
        "--identity", CLIENT.identity, "--secret-file", str(secret_file), capture.url + "/x", secret=None
    )
    assert result.returncode == 0, result.stderr
    assert capture.last.verify() == CLIENT.identity


def test_a_refused_request_exits_1_and_prints_the_answer(capture: CaptureServer) -> None:
    result = run(*signed(capture.url + "/x"), secret="not-the-secret")
    assert result.returncode == 1
    assert result.stdout.startswith("HTTP/1.1 401 ")
    assert "INVALID_SIGNATURE" in result.stdout


def test_dry_run_prints_the_headers_and_sends_nothing(capture: CaptureServer) -> None:
    result = run(*signed("--dry-run", "-d", "hello", capture.url + "/v1/x?q=%20"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "POST /v1/x?q=%20"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Host"] == f"127.0.0.1:{capture.port}"
    assert headers["Digest"] == body_digest(b"hello")
    assert headers["Date"].isdigit()
    assert headers["Authorization"].startswith("Rapid7-HMAC-V1-SHA256 ")
    assert capture.captured == []


def test_an_unreachable_server_exits_1() -> None:
    result = run(*signed("--timeout", "5", closed_port_url() + "/x"))
    assert result.returncode == 1
    assert "request failed" in result.stderr


@pytest.mark.parametrize(
    ("args", "secret", "message"),
    [
        (["--identity", "id", "--secret-env", SECRET_VAR, "http://h/"], None, "is not set or empty"),
        (["--identity", "id", "--secret-file", "/nonexistent/secret", "http://h/"], None, "cannot read"),
        (["--identity", "id", "http://h/"], CLIENT.secret, "required"),
        (["--identity", "a:b", "--secret-env", SECRET_VAR, "http://h/"], CLIENT.secret, "identity"),
        (
            ["--identity", "id", "--secret-env", SECRET_VAR, "-H", "no-colon", "http://h/"],
            CLIENT.secret,
            "Name",
        ),
        (["--identity", "id", "--secret-env", SECRET_VAR, "ftp://h/"], CLIENT.secret, "http"),
    ],
)
def test_usage_errors_exit_2_without_a_traceback(args: list[str], secret: str | None, message: str) -> None:
    result = run(*args, secret=secret)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_secret_cannot_be_given_as_an_argument() -> None:
    parser = cli.build_parser()
    options = {option for action in parser._actions for option in action.option_strings}
    assert not {option for option in options if option.startswith("--secret")} - {
        "--secret-env",
        "--secret-file",
    }


def test_main_in_process(
    capture: CaptureServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(SECRET_VAR, CLIENT.secret)
    assert cli.main(signed("-X", "DELETE", capture.url + "/v1/keys/k")) == 0
    out = capsys.readouterr().out
    assert " 200 OK" in out.splitlines()[0]
    assert capture.last.verify() == CLIENT.identity
