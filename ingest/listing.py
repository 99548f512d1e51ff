"""Listing a run's source: the connector's listing lock, the ledger rows that claim new files
page by page (the claim is the row: its unique key lets a file be taken once), and the
batches the claimed files are handed on in."""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors.aws import S3AccessError, describe_error
from connectors.selectors import run_refusal
from ingest import faults
from ingest.errors import FOR_CALLERS
from ingest.models import ConnectorLock, FileState, Run, RunStatus, RunTrigger, SourceFile
from ingest.runs import announce_finished, complete_if_done, fail_run, what_went_wrong
from ingest.s3.client import client_for, layout_for
from ingest.s3.keys import Listed, list_pages

logger = logging.getLogger(__name__)
Dispatch = Callable[[int, list[int]], None]  # (run id, file ids): hands a batch on


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def execute_run(run_id: int, *, dispatch: Dispatch) -> Run:
    """List the source, claim new files and hand them to `dispatch` in batches."""
    run = Run.objects.select_related("connector").get(pk=run_id)
    if run.finished_at is not None or run.listed_at is not None:
        return run  # already done (a redelivered task)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    refusal = run_refusal(run.connector)  # access may have been revoked since it was queued
    if refusal is not None:
        return fail_run(run, f"{refusal} Nothing was ingested.")
    if not acquire_lock(run):
        return fail_run(
            run,
            "Another run of this connector is listing its files right now; "
            "this run was not started.",
        )
    try:
        client = client_for(run.connector)
        _interrupt_stale_runs(run)
        for batch in _claimed_batches(client, run):
            dispatch(run.pk, batch)
    except S3AccessError as exc:
        return fail_run(run, f"Listing the source directory failed: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return fail_run(run, str(describe_error(exc, action="Listing the source directory")))
    except FOR_CALLERS:
        raise
    except Exception as exc:
        logger.exception("run %s: listing failed unexpectedly", run.pk)
        return fail_run(
            run,
            f"An unexpected error stopped the listing: {what_went_wrong(exc)}. The files "
            "it claimed are taken by the next run.",
        )
    finally:
        release_lock(run)
    Run.objects.filter(pk=run.pk).update(
        listed_at=timezone.now(), files_seen=SourceFile.objects.filter(run=run).count()
    )
    complete_if_done(run.pk)
    return Run.objects.get(pk=run.pk)


# --- the listing lock -----------------------------------------------------------------------


def acquire_lock(run: Run) -> bool:
    """Take the connector's listing lock if it is free, expired, or already this run's."""
    ConnectorLock.objects.get_or_create(connector_id=run.connector_id)
    now = timezone.now()
    available = Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(run=run)
    taken = ConnectorLock.objects.filter(available, connector_id=run.connector_id).update(
        run=run, locked_until=now + timedelta(seconds=settings.INGEST_LOCK_SECONDS)
    )
    return taken == 1


def renew_lock(run: Run) -> None:
    """A listing that is alive keeps its lock; a dead one's lock lapses within the TTL."""
    ConnectorLock.objects.filter(connector_id=run.connector_id, run=run).update(
        locked_until=timezone.now() + timedelta(seconds=settings.INGEST_LOCK_SECONDS)
    )


def release_lock(run: Run) -> None:
    ConnectorLock.objects.filter(connector_id=run.connector_id, run=run).update(
        run=None, locked_until=None
    )


# --- claiming -------------------------------------------------------------------------------


def _interrupt_stale_runs(run: Run) -> None:
    """Runs that died while listing (their lock expired) are closed as failed. Retry runs
    (ingest.redrive) do not list or take the lock: the watchdog sees to theirs."""
    stale = (
        Run.objects.filter(
            connector_id=run.connector_id, listed_at__isnull=True, finished_at__isnull=True
        )
        .exclude(pk=run.pk)
        .exclude(trigger=RunTrigger.RETRY)
    )
    stale_ids = list(stale.values_list("pk", flat=True))
    stale.filter(pk__in=stale_ids).update(
        status=RunStatus.FAILED,
        error="The run was interrupted while listing files.",
        listed_at=timezone.now(),
        finished_at=timezone.now(),
    )
    announce_finished(*stale_ids)


def _claimed_batches(client: Any, run: Run) -> Iterator[list[int]]:
    """Batches of file ids for this run: leftovers first, then newly listed files."""
    yield from in_batches(_adopt_leftovers(run))
    for key_count, page in list_pages(client, layout_for(run.connector)):
        renew_lock(run)
        Run.objects.filter(pk=run.pk).update(keys_listed=F("keys_listed") + key_count)
        claimed = _claim_page(run, page)
        faults.checkpoint("after_claim")
        if claimed:
            yield from in_batches(claimed)


def _adopt_leftovers(run: Run) -> list[tuple[int, int]]:
    """Files an earlier run claimed but never finished ingesting or routing. Claimed ones
    become this run's; ingested ones stay their run's, and this run, which tries to move them
    (route_run), waits for that and says how it went."""
    leftovers = SourceFile.objects.filter(
        connector_id=run.connector_id, state__in=[FileState.CLAIMED, FileState.INGESTED]
    )
    previous_runs = set(leftovers.exclude(run=run).values_list("run_id", flat=True))
    previous_runs |= set(leftovers.exclude(route_run=run).values_list("route_run_id", flat=True))
    leftovers.filter(state=FileState.CLAIMED).exclude(run=run).update(run=run)
    leftovers.filter(state=FileState.INGESTED).exclude(run=run).update(
        route_run=run, route_error=""
    )
    adopted = list(leftovers.values_list("pk", "size"))
    Run.objects.filter(pk=run.pk).update(
        files_seen=F("files_seen")
        + SourceFile.objects.filter(run=run, state=FileState.CLAIMED).count()
    )
    for run_id in previous_runs - {None}:
        complete_if_done(run_id)
    return adopted


def _claim_page(run: Run, page: list[Listed]) -> list[tuple[int, int]]:
    """Create ledger rows for the page's files not seen before; return (id, size) of ours."""
    if not page:
        return []
    known = _known_versions(run.connector_id, [item.key for item in page])
    fresh = [item for item in page if not _already_known(item, known)]
    SourceFile.objects.bulk_create(
        [
            SourceFile(
                connector_id=run.connector_id,
                run=run,
                key=item.key,
                etag=item.etag,
                last_modified=item.last_modified,
                size=item.size,
            )
            for item in fresh
        ],
        ignore_conflicts=True,
    )
    ours = list(
        SourceFile.objects.filter(
            run=run, state=FileState.CLAIMED, key__in=[item.key for item in fresh]
        ).values_list("pk", "size")
    )
    Run.objects.filter(pk=run.pk).update(files_seen=F("files_seen") + len(ours))
    return ours


def _known_versions(connector_id: int, keys: list[str]) -> dict[str, list[tuple[str, Any, str]]]:
    known: dict[str, list[tuple[str, Any, str]]] = {}
    rows = SourceFile.objects.filter(connector_id=connector_id, key__in=keys).values_list(
        "key", "etag", "last_modified", "state"
    )
    for key, etag, last_modified, state in rows:
        known.setdefault(key, []).append((etag, last_modified, state))
    return known


def _already_known(item: Listed, known: dict[str, list[tuple[str, Any, str]]]) -> bool:
    """Seen before: the same upload, or a retained failure with the same content."""
    for etag, last_modified, state in known.get(item.key, []):
        if etag != item.etag:
            continue
        if last_modified == item.last_modified or state == FileState.RETAINED:
            return True
    return False


def in_batches(files: Iterable[tuple[int, int]]) -> Iterator[list[int]]:
    """Group small files together; a big file goes alone."""
    batch: list[int] = []
    size = 0
    for file_id, file_size in files:
        if batch and (
            len(batch) >= settings.INGEST_BATCH_FILES
            or size + file_size > settings.INGEST_BATCH_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(file_id)
        size += file_size
    if batch:
        yield batch
