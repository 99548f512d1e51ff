"""Runs in this process (the run_connector command, benchmarks, tests): the listing, then each
batch as a worker's task does it, with the move task's retries applied at once.

The move task is applied eagerly (Celery's `apply`), so a run here tries a move as often as a
worker would (README, "Retries"), only without waiting between tries.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress

from django.db import connections

from ingest import batches, redrive, tasks
from ingest.listing import execute_run
from ingest.models import Run
from ingest.runs import complete_if_done


def run_inline(run: Run, *, parallel: int = 1) -> Run:
    """Run to its end; with parallel > 1, batches are processed by that many threads, each
    with its own database connection, kept from one batch to the next."""
    if parallel <= 1:
        return execute_run(run.pk, dispatch=process_batch)
    with ThreadPoolExecutor(parallel) as pool:
        pending: list[Future[None]] = []

        def dispatch(run_id: int, file_ids: list[int]) -> None:
            pending.append(pool.submit(_process_batch_in_thread, run_id, file_ids))

        try:
            finished = execute_run(run.pk, dispatch=dispatch)
            for future in pending:
                future.result()
        finally:
            _close_connections_of_threads(pool, parallel)
    complete_if_done(run.pk)
    return Run.objects.get(pk=finished.pk)


def retry_inline(run: Run) -> Run:
    """A retry run (ingest.redrive) to its end, its batches in this thread."""
    return redrive.execute_retry(run.pk, dispatch=process_batch)


def process_batch(run_id: int, file_ids: list[int], *, give_up_on_transient: bool = True) -> None:
    """A batch as the process_files task does it; files that meet an outage are given back
    at once (a worker's task retries first)."""
    batches.process_batch(
        run_id, file_ids, retry_moves=retry_moves_now, give_up_on_transient=give_up_on_transient
    )


def retry_moves_now(run_id: int, file_ids: list[int]) -> None:
    """The move task, with its retries, in this thread; an error it does not retry is raised
    here."""
    tasks.move_files.apply(args=(run_id, file_ids)).get()


def _process_batch_in_thread(run_id: int, file_ids: list[int]) -> None:
    try:
        process_batch(run_id, file_ids)
    except Exception:
        connections.close_all()  # this thread's: the next batch starts with a fresh one
        raise


def _close_connections_of_threads(pool: ThreadPoolExecutor, threads: int) -> None:
    """Close each pool thread's database connections (only a thread can close its own): one
    task per thread, held at a barrier until every thread has one."""
    barrier = threading.Barrier(threads)

    def close_mine() -> None:
        try:
            barrier.wait(timeout=30)
        finally:
            connections.close_all()

    for future in [pool.submit(close_mine) for _ in range(threads)]:
        with suppress(threading.BrokenBarrierError):  # it closed its connections all the same
            future.result()
