"""The Celery app: broker and schedules come from Django settings (CELERY_*)."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("loadbay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@worker_process_init.connect
def tune_worker_process(**kwargs: Any) -> None:
    """Workers ingest files: see ingest.runtime (the solo pool's worker is the main process;
    the prefork pool's children are initialised one by one)."""
    from ingest.runtime import tune_garbage_collector

    tune_garbage_collector()
