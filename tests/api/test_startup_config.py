"""Bad configuration stops every process at start-up with one line naming the key and its source."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import BIN, NotaryStack


def run(command: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / command), *args], capture_output=True, text=True, timeout=60, env=env)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["notary-server", "notary-worker", "notary-beat", "notary-redis"])
def test_unknown_key_names_key_and_file(tmp_path: Path, command: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"server": {"http_addr": "127.0.0.1:4443", "htp_addr": "oops"}}))
    line = one_error_line(run(command, "-config", str(config)))
    assert "server.htp_addr" in line
    assert str(config) in line
    assert "unknown key" in line


def test_bad_value_from_environment_names_the_variable(stack: NotaryStack) -> None:
    env = stack.env({"NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA": "forever"})
    line = one_error_line(run("notary-server", "-config", str(stack.config_path), env=env))
    assert "caching.max_age.current_metadata" in line
    assert "env NOTARY_SERVER_CACHING_MAX_AGE_CURRENT_METADATA" in line


def test_missing_tls_file_fails_clearly(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"server": {"tls_cert_file": "missing.crt", "tls_key_file": "missing.key"}}))
    line = one_error_line(run("notary-server", "-config", str(config)))
    assert "server.tls_cert_file" in line
    assert str(tmp_path / "missing.crt") in line


def test_signer_without_kek_refuses_to_start(stack: NotaryStack) -> None:
    line = one_error_line(run("notary-signer", "-config", str(stack.config_path), env=stack.env()))
    assert "signer.keks" in line
    assert "NOTARY_SERVER_SIGNER_KEKS" in line


def test_signer_with_malformed_kek_names_the_source(stack: NotaryStack) -> None:
    env = stack.env({"NOTARY_SERVER_SIGNER_KEKS": "k1:not-base64!"})
    line = one_error_line(run("notary-signer", "-config", str(stack.config_path), env=env))
    assert "signer.keks" in line
    assert "env NOTARY_SERVER_SIGNER_KEKS" in line


@pytest.mark.parametrize("command", ["notary-server", "notary-worker"])
def test_only_the_signer_may_hold_the_kek(stack: NotaryStack, command: str) -> None:
    env = stack.env({"NOTARY_SERVER_SIGNER_KEKS": stack.kek})
    line = one_error_line(run(command, "-config", str(stack.config_path), env=env))
    assert "only notary-signer" in line
    assert stack.kek.split(":")[1] not in line


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text("{not json")
    line = one_error_line(run("notary-server", "-config", str(config)))
    assert str(config) in line
    assert "not valid JSON" in line


@pytest.mark.parametrize("command", ["notary-server", "notary-worker", "notary-beat"])
def test_the_signer_keks_in_the_shared_config_file_are_refused_too(stack: NotaryStack, command: str) -> None:
    stack.write_config(signer={"keks": [stack.kek]})
    line = one_error_line(run(command, "-config", str(stack.config_path), env=stack.env()))
    assert "signer.keks" in line
    assert str(stack.config_path) in line
    assert stack.kek.split(":")[1] not in line
