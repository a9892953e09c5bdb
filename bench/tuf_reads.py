"""TUF server benchmarks, one run:

- GET ``timestamp.json`` and ``root.json`` requests per second at concurrency 10 and 50, next to a trivial
  endpoint (``/v2/``) on the same server, as a ratio (target: at least 0.7);
- the same reads on the Go notary-server 0.7.0 (memory store, local signer) on this machine, when installed;
- publish latency p50 / p99 of a targets-only update (server-held snapshot key).

The load generator is wrk (one thread, so it leaves the server as much of the two cores as possible).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.api.tuf_helpers import new_repo, publish
from tests.support.processes import NotaryStack, Process, wait_until
from tests.support.servers import RedisServer, find_free_port
from tests.support.tuf_builder import sign_file, targets_signed

GUN = "bench.example.com/app"
RESULTS = Path(__file__).resolve().parent / "results"


def wrk(url: str, connections: int, seconds: int) -> float:
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} failed responses\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


ROUNDS = 3


def read_rates(base_url: str, paths: dict[str, str], seconds: int) -> dict[str, dict[int, float]]:
    """Median of ROUNDS interleaved runs per endpoint: this shared machine drifts by tens of percent between
    runs, and interleaving exposes every endpoint to the same drift, so the ratios stay meaningful."""
    for path in paths.values():
        wrk(base_url + path, 10, 1)  # warm every worker's cache and connection pool
    samples: dict[str, dict[int, list[float]]] = {name: {10: [], 50: []} for name in paths}
    for _ in range(ROUNDS):
        for concurrency in (10, 50):
            for name, path in paths.items():
                samples[name][concurrency].append(wrk(base_url + path, concurrency, seconds))
    return {
        name: {concurrency: statistics.median(runs) for concurrency, runs in by_concurrency.items()}
        for name, by_concurrency in samples.items()
    }


def ours(workdir: Path, seconds: int, publishes: int) -> tuple[dict[str, dict[int, float]], list[float]]:
    redis = RedisServer.start(workdir / "redis")
    stack = NotaryStack(workdir / "notary", redis.url, f"sqlite:///{workdir}/notary.db")
    stack.write_config(logging={"level": "error"})
    try:
        stack.start_all()
        with stack.client() as client:
            repo = new_repo(client, GUN, server_snapshot=True)
        paths = {
            "trivial /v2/": "/v2/",
            "timestamp.json": f"/v2/{GUN}/_trust/tuf/timestamp.json",
            "root.json": f"/v2/{GUN}/_trust/tuf/root.json",
        }
        rates = read_rates(stack.base_url, paths, seconds)
        latencies = []
        with stack.client() as client:
            for version in range(repo.versions["targets"] + 1, repo.versions["targets"] + 1 + publishes):
                signed = targets_signed(targets={f"file-{version}": b"x" * 64}, version=version)
                files = {"targets": sign_file(signed, [repo.targets_key])}
                started = time.perf_counter()
                response = publish(client, GUN, files)
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
        return rates, latencies
    finally:
        stack.stop_all()
        redis.stop()


def go_notary_server(workdir: Path, seconds: int) -> dict[str, dict[int, float]] | None:
    """The reference server on the same machine: memory store, local trust (its fastest setup)."""
    if not shutil.which("notary-server") or not shutil.which("notary"):
        return None
    port = find_free_port()
    config = workdir / "go-server.json"
    config.write_text(
        json.dumps(
            {
                "server": {"http_addr": f"127.0.0.1:{port}"},
                "trust_service": {"type": "local"},
                "storage": {"backend": "memory"},
                "logging": {"level": "error"},
            }
        )
    )
    server = Process(
        "notary-server",
        ["notary-server", "-config", str(config)],
        dict(os.environ),
        workdir / "go-server.log",
    ).start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base_url), 30, what="the Go notary-server")
        env = dict(
            os.environ,
            NOTARY_ROOT_PASSPHRASE="bench",
            NOTARY_TARGETS_PASSPHRASE="bench",
            NOTARY_SNAPSHOT_PASSPHRASE="bench",
        )
        subprocess.run(
            ["notary", "-s", base_url, "-d", str(workdir / "trust"), "init", GUN, "-p"],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        paths = {
            "trivial /v2/": "/v2/",
            "timestamp.json": f"/v2/{GUN}/_trust/tuf/timestamp.json",
            "root.json": f"/v2/{GUN}/_trust/tuf/root.json",
        }
        return read_rates(base_url, paths, seconds)
    finally:
        server.stop()


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/_notary_server/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(
    rates: dict[str, dict[int, float]], go: dict[str, dict[int, float]] | None, latencies: list[float]
) -> str:
    lines = [
        f"TUF metadata reads (requests/s, median of {ROUNDS} interleaved wrk runs, 1 thread);"
        " ratios are within this run",
        "",
    ]
    header = f"{'endpoint':<16}{'conc':>5}{'ours':>10}{'vs trivial':>12}"
    if go:
        header += f"{'notary-server':>15}{'ours/notary':>13}"
    lines.append(header)
    for name, by_concurrency in rates.items():
        for concurrency, rate in by_concurrency.items():
            row = f"{name:<16}{concurrency:>5}{rate:>10.0f}{rate / rates['trivial /v2/'][concurrency]:>12.2f}"
            if go:
                theirs = go[name][concurrency]
                row += f"{theirs:>15.0f}{rate / theirs:>13.2f}"
            lines.append(row)
    lines += [
        "",
        f"targets-only publish latency over {len(latencies)} publishes: "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {percentile(latencies, 0.99) * 1000:.1f} ms",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=3, help="duration of each wrk run")
    parser.add_argument("--publishes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        rates, latencies = ours(workdir / "ours", args.seconds, args.publishes)
        (workdir / "go").mkdir()
        go = go_notary_server(workdir / "go", args.seconds)
    text = report(rates, go, latencies)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tuf_reads.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
