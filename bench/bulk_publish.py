"""Bulk publishing benchmark: 1,000 new repositories (root, targets and snapshot each, the server holding the
timestamp key) published by one ``POST /v1/bulk/publish``, through the default Procfile layout (one web with
its default workers, one worker with its default concurrency, one signer, beat) on SQLite.

Preparation is not timed: the server's timestamp key of every GUN (``GET .../timestamp.key``) and the
signed metadata. Timed: from sending the request to the job's ``succeeded`` (polled every 50 ms). Target:
20 s or less. The task time per step comes from the server's own metrics.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.api.bulk_helpers import initial_repositories, json_body, submit
from tests.support.processes import NotaryStack
from tests.support.servers import RedisServer

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 20.0


def prepare(client: httpx.Client, count: int) -> bytes:
    guns = [f"bench.example.com/bulk/app-{index:05d}" for index in range(count)]
    with ThreadPoolExecutor(8) as pool:
        repositories = [
            repository
            for chunk in pool.map(
                lambda start: initial_repositories(client, guns[start : start + 50]), range(0, count, 50)
            )
            for repository in chunk
        ]
    return json_body(repositories)


def task_seconds(metrics: str) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for task, seconds in re.findall(
        r'notary_task_duration_seconds_sum\{task="([^"]+)"\} ([\d.e+-]+)', metrics
    ):
        totals[task] += float(seconds)
    return dict(totals)


def run(workdir: Path, count: int) -> str:
    redis = RedisServer.start(workdir / "redis")
    stack = NotaryStack(workdir / "notary", redis.url, f"sqlite:///{workdir}/notary.db")
    stack.write_config(
        logging={"level": "warning"},
        limits={"max_bulk_repositories": max(count, 1000)},
        server={"workers": 2},
    )
    try:
        for name in ("web", "worker", "signer", "beat"):
            stack.start(name)
        with stack.client() as client:
            body = prepare(client, count)
            before = task_seconds(client.get("/metrics").text)
            started = time.perf_counter()
            response = submit(client, body)
            accepted = time.perf_counter() - started
            assert response.status_code == 202, response.text
            location = response.headers["location"]
            while (document := client.get(location).json())["state"] not in ("succeeded", "failed"):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            after = task_seconds(client.get("/metrics").text)
        outcomes = document["result"]["repositories"]
        published = sum(outcome["state"] == "published" for outcome in outcomes)
        steps = {
            task: after[task] - before.get(task, 0.0) for task in after if after[task] > before.get(task, 0.0)
        }
    finally:
        stack.stop_all()
        redis.stop()
    verdict = "met" if elapsed <= TARGET_SECONDS and published == count else "NOT met"
    lines = [
        f"bulk publish of {count} new repositories (root+targets+snapshot, server timestamp key), SQLite,",
        "default Procfile layout (web 2 workers, worker concurrency 2, signer, beat):",
        f"  request to job done: {elapsed:.1f} s (target {TARGET_SECONDS:.0f} s: {verdict});"
        f" 202 after {accepted:.2f} s; {published}/{count} published; {len(body) / 1e6:.1f} MB body",
        "  task time per step (sum over processes, s): "
        + ", ".join(f"{task} {seconds:.1f}" for task, seconds in sorted(steps.items())),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repositories", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        text = run(Path(directory), args.repositories)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bulk_publish.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
