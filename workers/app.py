"""The Celery application. Its static policy is ``celeryconfig``; ``configure`` adds the deployment's
broker, its TLS and message signing."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from models import outbox
from notary.broker_auth import load_signing_identity
from notary.settings import Settings
from workers import message_signing, runtime

TASK_MODULES = [
    "workers.signer_tasks",
    "workers.tuf_tasks",
    "workers.key_tasks",
    "workers.job_tasks",
    "workers.webhook_tasks",
    "workers.bulk_tasks",
    "workers.event_tasks",
]

DISPATCH_TASK = "webhooks.dispatch_events"

celery_app = Celery("notary", include=TASK_MODULES)
celery_app.config_from_object("celeryconfig")


def configure(settings: Settings) -> Celery:
    connect(celery_app, settings)
    runtime.install(settings)
    trigger_dispatch_after_commits(celery_app)
    return celery_app


def connect(app: Celery, settings: Settings) -> None:
    """What every process that sends or consumes tasks needs: the broker, its TLS, message signing."""
    app.conf.broker_url = settings.broker_url
    app.conf.broker_transport_options = transport_options(settings["broker.visibility_timeout"])
    app.conf.broker_use_ssl = runtime.broker_tls(settings)
    identity = load_signing_identity(settings)
    if identity is not None:
        message_signing.install(app, identity)


def trigger_dispatch_after_commits(app: Celery) -> None:
    """In this process, every commit that recorded change events sends the event dispatcher."""
    outbox.set_dispatch_trigger(lambda: app.send_task(DISPATCH_TASK))


@worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    runtime.forget_after_fork()


def transport_options(visibility_timeout: float) -> dict[str, Any]:
    """kombu sweeps for unacknowledged messages of dead workers only every interval x throttle seconds (100 s
    by default); tie the sweep to the visibility window so such a message returns within about 1.2 windows."""
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": max(1, min(10, int(visibility_timeout / 5))),
        "unacked_restore_throttle": 1,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }


def job_channel(job_id: str) -> str:
    return f"notary:job:{job_id}"
