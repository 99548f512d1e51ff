"""A run's life: starting it (or refusing to, saying why), notes on it, and closing it, with
the status it ends in, once every file it took is done with."""

from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from connectors.models import Connector
from connectors.selectors import run_refusal
from ingest.models import FileState, Run, RunStatus, RunTrigger, SourceFile

MAX_NOTES = 200
# Not where the rules say: ingested and not moved (retried on every run), or kept in the
# source directory because it cannot be moved (said why, not retried).
NOT_MOVED = Q(state=FileState.INGESTED) | (Q(state=FileState.RETAINED) & ~Q(route_error=""))

# Sent with `run_id` once a run is closed, after its transaction commits (alerts listen).
run_finished = Signal()


def announce_finished(*run_ids: int) -> None:
    """Send run_finished for each run once the current transaction (if any) commits; a
    listener's error is logged, never raised into the run's work."""
    for run_id in run_ids:
        transaction.on_commit(partial(run_finished.send, sender=Run, run_id=run_id), robust=True)


class RunRefused(Exception):
    """A run cannot start; str() says why."""


def start_run(connector: Connector, *, trigger: str, user: Any = None) -> Run:
    if not connector.enabled:
        raise RunRefused(f"Connector {connector.name!r} is disabled; enable it to run it.")
    refusal = run_refusal(connector)
    if refusal is not None:
        raise RunRefused(refusal)
    return Run.objects.create(connector=connector, trigger=trigger, triggered_by=user)


def start_scheduled_run(connector_id: int) -> Run | None:
    """A scheduled poll; none while the connector is disabled or already has an active run.
    A poll refused for its owner's access is recorded as a failed run, which says why."""
    connector = Connector.objects.filter(pk=connector_id, enabled=True).first()
    if connector is None:
        return None
    if Run.objects.filter(
        connector=connector,
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
        finished_at__isnull=True,
        queued_at__gte=timezone.now() - timedelta(seconds=settings.INGEST_LOCK_SECONDS),
    ).exists():
        return None
    try:
        return start_run(connector, trigger=RunTrigger.SCHEDULED)
    except RunRefused as exc:
        refused = Run.objects.create(connector=connector, trigger=RunTrigger.SCHEDULED)
        fail_run(refused, str(exc))
        return None


def note(run_id: int, message: str) -> None:
    """Record a problem on the run (kept short: at most MAX_NOTES)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if len(run.notes) < MAX_NOTES:
            run.notes = [*run.notes, message]
            run.save(update_fields=["notes"])


def fail_run(run: Run, message: str) -> Run:
    """Close the run as failed, saying why (unless it is closed already)."""
    closed = Run.objects.filter(pk=run.pk, finished_at__isnull=True).update(
        status=RunStatus.FAILED,
        error=message,
        finished_at=timezone.now(),
        listed_at=timezone.now(),
    )
    if closed:
        announce_finished(run.pk)
    return Run.objects.get(pk=run.pk)


def what_went_wrong(exc: BaseException) -> str:
    """An error nobody foresaw, in a line a run can show: its type and (the start of) its
    message; the traceback goes to the worker's log."""
    message = str(exc).strip()
    if len(message) > 300:
        message = message[:300] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def complete_if_done(run_id: int) -> None:
    """Close the run once it has listed everything and every file it took is done with: its
    own ingested, and each file it tried to move (its own, earlier runs' leftovers) tried to
    the end. A run after which some of them are not where the rules say says so: in its
    status, on its files, and in a note for each earlier run's file."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None or run.finished_at is not None or run.listed_at is None:
        return
    taken = SourceFile.objects.filter(Q(run_id=run_id) | Q(route_run_id=run_id))
    # Still in hand: waiting to be ingested, or ingested and not yet tried to the end.
    in_hand = Q(state=FileState.CLAIMED) | Q(state=FileState.INGESTED, route_error="")
    if taken.filter(in_hand).exists():
        return
    not_moved = list(taken.filter(NOT_MOVED).values_list("run_id", "key", "route_error"))
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, finished_at__isnull=True).first()
        if run is None:
            return  # closed meanwhile
        for file_run, key, why in not_moved:
            if file_run != run_id and len(run.notes) < MAX_NOTES:
                run.notes = [*run.notes, f"{key} (ingested by run {file_run}): not moved: {why}"]
        if not_moved:
            run.status = RunStatus.UNMOVED
        elif run.files_failed or run.notes:
            run.status = RunStatus.PARTIAL
        else:
            run.status = RunStatus.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at", "notes"])
        announce_finished(run_id)


def complete_runs_of(file_ids: list[int], *also: int) -> None:
    """complete_if_done for the runs that ingested the files (earlier runs' files may have
    been the last they waited for), and for the runs `also` named."""
    run_ids = set(SourceFile.objects.filter(pk__in=file_ids).values_list("run_id", flat=True))
    for run_id in sorted((run_ids | set(also)) - {None}):
        complete_if_done(run_id)
