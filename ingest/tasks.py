"""Celery tasks: thin wrappers that take ids and call the ingest services, retried as
ingest.retries says.

On a task's last try the services give up instead of raising (claimed files are given back,
moves not made are recorded), so the run still finishes, saying why.
"""

from typing import Any

from celery import Task, shared_task

from ingest import batches, listing, redrive, runs
from ingest import watchdog as ingest_watchdog
from ingest.retries import MOVE_FIRST_DELAY, MOVE_RETRY, TASK_RETRY


def dispatch_batch(run_id: int, file_ids: list[int]) -> None:
    process_files.delay(run_id, file_ids)


def retry_moves_later(run_id: int, file_ids: list[int]) -> None:
    move_files.apply_async((run_id, file_ids), countdown=MOVE_FIRST_DELAY)


@shared_task(**TASK_RETRY)
def run_connector(run_id: int) -> None:
    """List a run's source and fan its files out to process_files tasks."""
    listing.execute_run(run_id, dispatch=dispatch_batch)


@shared_task(**TASK_RETRY)
def poll_connector(connector_id: int) -> None:
    """The beat entry of every scheduled connector."""
    run = runs.start_scheduled_run(connector_id)
    if run is not None:
        listing.execute_run(run.pk, dispatch=dispatch_batch)


@shared_task(bind=True, **TASK_RETRY)
def retry_files(self: Task, run_id: int) -> Any:
    """Take a retry run's failed files again and fan them out to process_files tasks."""
    last_try = self.request.retries >= self.max_retries
    redrive.execute_retry(run_id, dispatch=dispatch_batch, give_up_on_transient=last_try)


@shared_task(bind=True, **TASK_RETRY)
def process_files(self: Task, run_id: int, file_ids: list[int]) -> Any:
    # On the last attempt, transient failures release the file for the next run instead.
    last_try = self.request.retries >= self.max_retries
    batches.process_batch(
        run_id, file_ids, retry_moves=retry_moves_later, give_up_on_transient=last_try
    )


@shared_task(bind=True, **MOVE_RETRY)
def move_files(self: Task, run_id: int, file_ids: list[int]) -> Any:
    """Move the batch's files whose move failed; on the last try, record why not."""
    last_try = self.request.retries >= self.max_retries
    batches.move_batch(run_id, file_ids, last_try=last_try)


@shared_task(acks_late=True)
def watchdog() -> None:
    """The beat's watchdog (CELERY_BEAT_SCHEDULE): finish what dead processes left behind."""
    ingest_watchdog.sweep()
