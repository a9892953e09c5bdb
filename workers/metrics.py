"""Task metrics. With PROMETHEUS_MULTIPROC_DIR set (the launchers set it) every worker process writes its own
file, and the API's /metrics aggregates them with the HTTP metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TASKS = Counter("notary_tasks_total", "Celery tasks run, by task name and outcome", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "notary_task_duration_seconds",
    "Celery task run time, by task name",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WEBHOOK_ATTEMPTS = Counter(
    "notary_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"]
)
KEYS_SWEPT = Counter("notary_keys_swept_total", "Expired or revoked shared keys deleted by the sweep")
JOBS_REQUEUED = Counter("notary_jobs_requeued_total", "Stale jobs sent to the queue again")
KEYS_REWRAPPED = Counter(
    "notary_server_keys_rewrapped_total", "Server keys re-sealed under the current key-encryption key"
)
KEYS_AWAITING_REWRAP = Gauge(
    "notary_server_keys_awaiting_rewrap",
    "Server keys still sealed under another key-encryption key, as of the last re-wrap pass",
    multiprocess_mode="mostrecent",
)
PENDING_KEYS_SWEPT = Counter(
    "notary_server_keys_swept_total", "Server keys deleted because no root activated them in time"
)


def record_task(task: str, outcome: str, seconds: float) -> None:
    TASKS.labels(task=task, outcome=outcome).inc()
    TASK_SECONDS.labels(task=task).observe(seconds)
