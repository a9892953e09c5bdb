"""Celery settings: the static policy of every worker. The broker URL comes from the notary configuration.

- JSON only: task messages carry ids and scalars, never pickles and never secrets.
  With ``security.*`` configured, that JSON travels signed (``auth``; see workers/message_signing.py).
- acks_late + reject_on_worker_lost + prefetch 1: a task is acknowledged only after it finished, so a worker
  killed mid-task loses nothing; the message is redelivered and the job's state machine makes it finish once.
- Explicit queues, routed by task name: only the signer process consumes ``signer``.
"""

from kombu import Queue

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
event_serializer = "json"

task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
task_track_started = False
# Job state lives in the database; Celery's result backend is not used.
task_ignore_result = True
result_backend = None

task_default_queue = "default"
task_queues = (Queue("default"), Queue("signer"), Queue("webhooks"))
task_routes = {
    "signer.*": {"queue": "signer"},
    "webhooks.*": {"queue": "webhooks"},
    "jobs.*": {"queue": "default"},
    "tuf.*": {"queue": "default"},
    "keys.*": {"queue": "default"},
    "bulk.*": {"queue": "default"},
}
task_create_missing_queues = False

broker_connection_retry_on_startup = True
worker_hijack_root_logger = False
worker_send_task_events = False
worker_cancel_long_running_tasks_on_connection_loss = True

beat_schedule = {
    "jobs.requeue_stale": {"task": "jobs.requeue_stale", "schedule": 30.0},
    "webhooks.retry_due": {"task": "webhooks.retry_due", "schedule": 15.0},
    "webhooks.dispatch_events": {"task": "webhooks.dispatch_events", "schedule": 15.0},
    "tuf.refresh_expiring": {"task": "tuf.refresh_expiring", "schedule": 300.0},
    "keys.sweep": {"task": "keys.sweep", "schedule": 60.0},
    "jobs.purge_finished": {"task": "jobs.purge_finished", "schedule": 3600.0},
    "tuf.sweep_pending_keys": {"task": "tuf.sweep_pending_keys", "schedule": 3600.0},
    # On the signer queue: only a signer can open the keys to re-seal them under the current KEK.
    # Expiring: runs piled up while no signer was up are dropped, not all run when one comes back.
    "signer.rewrap_keys": {"task": "signer.rewrap_keys", "schedule": 600.0, "options": {"expires": 600.0}},
    "webhooks.purge_settled": {"task": "webhooks.purge_settled", "schedule": 3600.0},
}
