"""The watchdog: finishes what a process that died left behind (a killed worker, a crashed
run_connector command, a task message lost with its broker), and says so on each run.

A run is stale when nothing has happened in it for INGEST_STALE_RUN_SECONDS (not queued,
started or listed since, no file of it claimed, ingested or finished since) and its listing
lock has lapsed. Of a stale run:

- claimed files that no process holds are released: their ledger rows are deleted, so the
  next run lists them and takes them again. Nothing of them was written (a file's records
  commit with its INGESTED state). A file being ingested or moved holds its ledger row locked
  (FOR UPDATE) until its transaction ends, and the lock dies with its process's connection:
  SKIP LOCKED tells "left by a dead process" from "being worked on". A run with a file held
  is alive, and is left alone.
- files ingested but not moved yet are left for the next run, which moves them (never
  ingesting them again).
- the run is finished: failed if it never got through its listing (never started, or its
  process died listing), otherwise by the rule of complete_if_done; a note says what the
  watchdog did and when. A listing lock it still held is released.

SQLite has no row locks, but every transaction there takes the database's write lock when it
begins (transaction_mode IMMEDIATE in config.settings): while a file is being ingested or
moved, the sweep waits for it (or fails with "database is locked" after the timeout, and the
next sweep tries again), so what it finds claimed is held by no transaction there either.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from ingest.models import ConnectorLock, FileState, Run, RunStatus, SourceFile
from ingest.runs import announce_finished

logger = logging.getLogger(__name__)
KEYS_NAMED = 10  # keys a note names before "and N more"


@dataclass
class Swept:
    """What one sweep did."""

    runs_finished: list[int] = field(default_factory=list)
    files_released: int = 0


def sweep(*, now: datetime | None = None) -> Swept:
    """Finish every stale run (see the module's docstring); each in a transaction of its own."""
    now = now or timezone.now()
    swept = Swept()
    for run_id in stale_run_ids(now=now):
        released = _finish_if_abandoned(run_id, now)
        if released is not None:
            swept.runs_finished.append(run_id)
            swept.files_released += released
    if swept.runs_finished:
        logger.warning(
            "watchdog finished runs %s and released %s claimed files",
            swept.runs_finished,
            swept.files_released,
        )
    return swept


def stale_run_ids(*, now: datetime) -> list[int]:
    """Unfinished runs without a sign of life since the cutoff and without a live lock."""
    cutoff = now - timedelta(seconds=settings.INGEST_STALE_RUN_SECONDS)
    recent_file = SourceFile.objects.filter(run=OuterRef("pk")).filter(
        Q(claimed_at__gte=cutoff) | Q(ingested_at__gte=cutoff) | Q(finished_at__gte=cutoff)
    )
    live_lock = ConnectorLock.objects.filter(run=OuterRef("pk"), locked_until__gte=now)
    return list(
        Run.objects.filter(finished_at__isnull=True, queued_at__lt=cutoff)
        .exclude(started_at__gte=cutoff)
        .exclude(listed_at__gte=cutoff)
        .exclude(Exists(recent_file))
        .exclude(Exists(live_lock))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _finish_if_abandoned(run_id: int, now: datetime) -> int | None:
    """Release the run's claims and finish it, unless a process holds one of its files; the
    number of claims released, or None if the run was left alone."""
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_id, finished_at__isnull=True).first()
        if run is None:
            return None
        files = SourceFile.objects.filter(run=run)
        claimed = files.filter(state=FileState.CLAIMED)
        unmoved = files.filter(state=FileState.INGESTED, route_attempts=0)
        # Counted first: a file a worker moves on meanwhile then counts as held.
        counts = (claimed.count(), unmoved.count())
        free_claims, free_unmoved = _unheld(claimed), _unheld(unmoved)
        if len(free_claims) < counts[0] or len(free_unmoved) < counts[1]:
            return None  # a process is working on one of its files: the run is alive
        SourceFile.objects.filter(pk__in=[pk for pk, _ in free_claims]).delete()
        ConnectorLock.objects.filter(run=run).update(run=None, locked_until=None)
        status, error = _final_status(run, released=bool(free_claims), unmoved=free_unmoved)
        Run.objects.filter(pk=run.pk).update(
            status=status,
            error=error or run.error,
            listed_at=run.listed_at or now,
            finished_at=now,
            files_seen=F("files_seen") - len(free_claims),
            notes=[*run.notes, _note(now, free_claims, free_unmoved)],
        )
        announce_finished(run.pk)
    return len(free_claims)


def _unheld(files: QuerySet[SourceFile]) -> list[tuple[int, str]]:
    """(id, key) of the files no other transaction holds, locked now by this one."""
    return [
        (f.pk, f.key)
        for f in files.select_for_update(skip_locked=True).only("pk", "key").order_by("pk")
    ]


def _final_status(run: Run, *, released: bool, unmoved: list[tuple[int, str]]) -> tuple[str, str]:
    if run.started_at is None:
        return RunStatus.FAILED, (
            "This run never started: no worker took it (is a Celery worker running?)."
        )
    if run.listed_at is None:
        return RunStatus.FAILED, (
            "This run stopped while listing the source directory: the process running it "
            "is gone. The next run lists the directory again."
        )
    unrouted = SourceFile.objects.filter(run=run, state=FileState.INGESTED).exists()
    troubled = released or unmoved or unrouted or run.files_failed or run.notes
    return (RunStatus.PARTIAL if troubled else RunStatus.SUCCEEDED), ""


def _note(now: datetime, released: list[tuple[int, str]], unmoved: list[tuple[int, str]]) -> str:
    said = [
        f"Watchdog, {now:%Y-%m-%d %H:%M:%S %Z}: nothing had happened in this run for "
        f"{_duration(settings.INGEST_STALE_RUN_SECONDS)} and no process held any of its "
        "files, so the process running it is gone."
    ]
    if released:
        said.append(
            f"Released {len(released)} claimed file(s), none of it written, which the next "
            f"run lists and ingests: {_named(released)}."
        )
    if unmoved:
        said.append(
            f"{len(unmoved)} file(s) ingested but not moved yet are left for the next run to "
            f"move: {_named(unmoved)}."
        )
    said.append("It finished the run.")
    return " ".join(said)


def _duration(seconds: int) -> str:
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _named(files: list[tuple[int, str]]) -> str:
    keys = [key for _, key in files[:KEYS_NAMED]]
    more = len(files) - len(keys)
    return ", ".join(keys) + (f" and {more} more" if more else "")
