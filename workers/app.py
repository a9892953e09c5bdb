"""The Celery application. Its static policy is ``celeryconfig``; ``configure`` adds the deployment's
broker."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_process_init

from notary.settings import Settings
from workers import runtime

TASK_MODULES = ["workers.signer_tasks", "workers.job_tasks", "workers.webhook_tasks"]

celery_app = Celery("notary", include=TASK_MODULES)
celery_app.config_from_object("celeryconfig")


def configure(settings: Settings) -> Celery:
    celery_app.conf.broker_url = settings.broker_url
    celery_app.conf.broker_transport_options = {
        "visibility_timeout": settings["broker.visibility_timeout"],
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }
    runtime.install(settings)
    return celery_app


@worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    runtime.forget_after_fork()


def job_channel(job_id: str) -> str:
    return f"notary:job:{job_id}"
