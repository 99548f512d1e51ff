"""Celery tasks: thin wrappers that take ids and call ingest.services.

Only named transient errors are retried (with backoff and jitter); everything else is
recorded on the run by the services.
"""

from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from ingest import services
from ingest import watchdog as ingest_watchdog

TRANSIENT = (services.TransientIngestError, OperationalError, InterfaceError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


def dispatch_batch(run_id: int, file_ids: list[int]) -> None:
    process_files.delay(run_id, file_ids)


@shared_task(**RETRY)
def run_connector(run_id: int) -> None:
    """List a run's source and fan its files out to process_files tasks."""
    services.execute_run(run_id, dispatch=dispatch_batch)


@shared_task(**RETRY)
def poll_connector(connector_id: int, trigger: str = "scheduled") -> None:
    """The beat entry of every scheduled connector."""
    run = services.start_scheduled_run(connector_id)
    if run is not None:
        services.execute_run(run.pk, dispatch=dispatch_batch)


@shared_task(bind=True, **RETRY)
def process_files(self: Task, run_id: int, file_ids: list[int]) -> Any:
    # On the last attempt, transient failures release the file for the next run instead.
    last_try = self.request.retries >= self.max_retries
    services.process_batch(run_id, file_ids, give_up_on_transient=last_try)


@shared_task(acks_late=True)
def watchdog() -> None:
    """The beat's watchdog (CELERY_BEAT_SCHEDULE): finish what dead processes left behind."""
    ingest_watchdog.sweep()
