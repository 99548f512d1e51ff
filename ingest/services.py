"""Runs of a connector: list the source, claim new files, ingest each one atomically, then
move or delete it by the connector's Successful/Failed Files Directory rules.

Exactly once: a file's ledger row (SourceFile) is created once; its records and its INGESTED
state commit in one transaction while the row is locked; routing afterwards only moves or
deletes and is retried until it succeeds, never ingesting again.
"""

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors.aws import S3AccessError, describe_error, shared_s3_client
from connectors.models import Connector
from connectors.selectors import run_refusal
from connectors.sources.s3 import params_for_connector
from entities.validation import FieldSpec
from ingest import conditions, faults, reports, s3files
from ingest.destinations import DestinationTooLong, destination_for, report_key
from ingest.models import (
    ConnectorLock,
    FileOutcome,
    FileState,
    Run,
    RunStatus,
    RunTrigger,
    SourceFile,
)
from ingest.models import RowError as RowErrorModel
from ingest.parsers import DecompressionLimit
from ingest.types import FileFailed, IngestConfig, Tolerance
from ingest.types import FileOutcome as WriteOutcome

logger = logging.getLogger(__name__)
Dispatch = Callable[[int, list[int]], None]
MAX_NOTES = 200
ROUTE_RETRY_DELAYS = (0.5, 2.0)  # seconds before each retry of a failed move/delete


class TransientIngestError(Exception):
    """A failure worth retrying later (S3 throttling or outage, database hiccup)."""


class RunRefused(Exception):
    """A run cannot start; str() says why."""


# --- starting a run -------------------------------------------------------------------------


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
        queued_at__gte=_lock_cutoff(),
    ).exists():
        return None
    try:
        return start_run(connector, trigger=RunTrigger.SCHEDULED)
    except RunRefused as exc:
        refused = Run.objects.create(connector=connector, trigger=RunTrigger.SCHEDULED)
        _fail_run(refused, str(exc))
        return None


def _lock_cutoff() -> Any:
    return timezone.now() - timedelta(seconds=settings.INGEST_LOCK_SECONDS)


def note(run_id: int, message: str) -> None:
    """Record a problem on the run (kept short: at most MAX_NOTES)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run_id)
        if len(run.notes) < MAX_NOTES:
            run.notes = [*run.notes, message]
            run.save(update_fields=["notes"])


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


# --- a run ----------------------------------------------------------------------------------


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def execute_run(run_id: int, *, dispatch: Dispatch) -> Run:
    """List the source, claim new files and hand them to `dispatch` in batches."""
    run = Run.objects.select_related("connector").get(pk=run_id)
    if run.finished_at is not None or run.listed_at is not None:
        return run  # already done (a redelivered task)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    refusal = run_refusal(run.connector)  # access may have been revoked since it was queued
    if refusal is not None:
        return _fail_run(run, f"{refusal} Nothing was ingested.")
    if not acquire_lock(run):
        return _fail_run(
            run,
            "Another run of this connector is listing its files right now; "
            "this run was not started.",
        )
    try:
        client = shared_s3_client(params_for_connector(run.connector))
        _interrupt_stale_runs(run)
        for batch in _claimed_batches(client, run):
            dispatch(run.pk, batch)
    except S3AccessError as exc:
        return _fail_run(run, f"Listing the source directory failed: {exc}")
    except (ClientError, BotoCoreError) as exc:
        return _fail_run(run, str(describe_error(exc, action="Listing the source directory")))
    except _FOR_CALLERS:
        raise
    except Exception as exc:
        logger.exception("run %s: listing failed unexpectedly", run.pk)
        return _fail_run(
            run,
            f"An unexpected error stopped the listing: {_what_went_wrong(exc)}. The files "
            "it claimed are taken by the next run.",
        )
    finally:
        release_lock(run)
    Run.objects.filter(pk=run.pk).update(
        listed_at=timezone.now(), files_seen=SourceFile.objects.filter(run=run).count()
    )
    complete_if_done(run.pk)
    return Run.objects.get(pk=run.pk)


def _fail_run(run: Run, message: str) -> Run:
    Run.objects.filter(pk=run.pk, finished_at__isnull=True).update(
        status=RunStatus.FAILED,
        error=message,
        finished_at=timezone.now(),
        listed_at=timezone.now(),
    )
    return Run.objects.get(pk=run.pk)


def _interrupt_stale_runs(run: Run) -> None:
    """Runs that died while listing (their lock expired) are closed as failed."""
    stale = Run.objects.filter(
        connector_id=run.connector_id, listed_at__isnull=True, finished_at__isnull=True
    ).exclude(pk=run.pk)
    stale.update(
        status=RunStatus.FAILED,
        error="The run was interrupted while listing files.",
        listed_at=timezone.now(),
        finished_at=timezone.now(),
    )


def _claimed_batches(client: Any, run: Run) -> Iterator[list[int]]:
    """Batches of file ids for this run: leftovers first, then newly listed files."""
    connector = run.connector
    yield from _batches(_adopt_leftovers(run))
    layout = layout_for(connector)
    for key_count, page in s3files.list_pages(client, layout):
        renew_lock(run)
        Run.objects.filter(pk=run.pk).update(keys_listed=F("keys_listed") + key_count)
        claimed = _claim_page(run, page)
        faults.checkpoint("after_claim")
        if claimed:
            yield from _batches(claimed)


def layout_for(connector: Connector) -> s3files.Layout:
    s3 = connector.s3
    return s3files.Layout(
        bucket=s3.bucket,
        source=s3.source_path,
        success=s3.success_path,
        failed=s3.failed_path,
        pattern=connector.file_pattern,
    )


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


def _claim_page(run: Run, page: list[s3files.Listed]) -> list[tuple[int, int]]:
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


def _already_known(item: s3files.Listed, known: dict[str, list[tuple[str, Any, str]]]) -> bool:
    """Seen before: the same upload, or a retained failure with the same content."""
    for etag, last_modified, state in known.get(item.key, []):
        if etag != item.etag:
            continue
        if last_modified == item.last_modified or state == FileState.RETAINED:
            return True
    return False


def _batches(files: Iterable[tuple[int, int]]) -> Iterator[list[int]]:
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


# --- one batch of files ---------------------------------------------------------------------


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def process_batch(run_id: int, file_ids: list[int], *, give_up_on_transient: bool = True) -> None:
    """Ingest the files, then route them together. A file on its own is streamed in its own
    transaction; several (small) files are read at once and ingested in one transaction, each
    in a savepoint of its own."""
    run = Run.objects.select_related(
        "connector", "connector__s3", "connector__entity_type", "connector__owner"
    ).get(pk=run_id)
    client = _client_or_give_back(run, file_ids, give_up_on_transient=give_up_on_transient)
    if client is None:
        return
    held: dict[int, bytes] = {}  # small files' bytes, which their moves may PUT
    refusal = run_refusal(run.connector)  # access may have been revoked since the run started
    if refusal is None:
        _ingest_batch(client, run, file_ids, held, give_up_on_transient=give_up_on_transient)
    else:
        for file_id in file_ids:  # given back, untouched, for a run that may write again
            release_claim(run_id, file_id, refusal)
    faults.checkpoint("after_commit")
    route_with_retries(client, run.connector, file_ids, held=held)
    complete_if_done(run_id)


def _ingest_batch(
    client: Any,
    run: Run,
    file_ids: list[int],
    held: dict[int, bytes],
    *,
    give_up_on_transient: bool,
) -> None:
    config = ingest_config(run.connector, file_id=0)  # the entity's fields, read once a batch
    if len(file_ids) == 1:
        unread = _ingest_alone(client, file_ids[0], connector=run.connector, config=config)
    else:
        try:
            unread = ingest_together(
                client, file_ids, connector=run.connector, config=config, held=held
            )
        except _FOR_CALLERS:
            raise
        except Exception:  # outside any one file's parsing: find the culprit file by file
            logger.exception(
                "run %s: a batch failed unexpectedly; ingesting it file by file", run.pk
            )
            held.clear()
            unread = {}
            for file_id in file_ids:
                unread |= _ingest_alone(client, file_id, connector=run.connector, config=config)
    for file_id, reason in unread.items():
        if not give_up_on_transient:
            raise TransientIngestError(reason)
        release_claim(run.pk, file_id, reason)


def _ingest_alone(
    client: Any, file_id: int, *, connector: Connector, config: IngestConfig
) -> dict[int, str]:
    """Ingest one file; {file id: reason} if it could not be read for a passing reason. An
    unexpected error (outside its parsing, which _parse_and_write answers for) fails it."""
    try:
        ingest_file(client, file_id, connector=connector, config=config)
    except TransientIngestError as exc:
        return {file_id: str(exc)}
    except _FOR_CALLERS:
        raise
    except Exception as exc:
        logger.exception("file %s: ingesting failed unexpectedly", file_id)
        _fail_claimed_file(file_id, _unexpected_failure(exc))
    return {}


def _fail_claimed_file(file_id: int, reason: str) -> None:
    """Record a claimed file as failed, with nothing written, to be routed as failed files
    are (unless a worker holds it, or it is no longer claimed)."""
    with transaction.atomic():
        source_file = (
            SourceFile.objects.select_for_update(skip_locked=True)
            .filter(pk=file_id, state=FileState.CLAIMED)
            .first()
        )
        if source_file is not None:
            _set_result(source_file, WriteOutcome(), reason)
            _save_results([(source_file, WriteOutcome())])


def _what_went_wrong(exc: BaseException) -> str:
    message = str(exc).strip()
    if len(message) > 300:
        message = message[:300] + "…"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _unexpected_failure(exc: BaseException) -> str:
    return (
        f"an unexpected error stopped processing this file: {_what_went_wrong(exc)}; nothing "
        "from it was written. This is a fault in Loadbay, not necessarily in the file; the "
        "worker's log has the details."
    )


def route_with_retries(
    client: Any, connector: Connector, file_ids: list[int], *, held: dict[int, bytes] | None = None
) -> None:
    """Route, and retry what failed a few times with backoff before leaving it for next run.
    Only the last try's failures are recorded as the files' route errors: until then the
    files are still in hand, and their runs wait for them."""
    runs = set(SourceFile.objects.filter(pk__in=file_ids).values_list("run_id", flat=True))
    for delay in (*ROUTE_RETRY_DELAYS, None):
        route_files(client, connector, file_ids, held=held, last_try=delay is None)
        waiting = SourceFile.objects.filter(pk__in=file_ids, state=FileState.INGESTED).exists()
        if not waiting or delay is None:
            break
        time.sleep(delay)
    for run_id in runs - {None}:
        complete_if_done(run_id)  # files of earlier runs may have been the last they waited for


def _client_or_give_back(run: Run, file_ids: list[int], *, give_up_on_transient: bool) -> Any:
    """The run's S3 client; without one (an outage, or settings no client can be built from
    since the listing), the task retries a passing failure, and otherwise the batch's files
    are given back (claimed ones are listed again by the next run; ingested ones wait there to
    be moved), so the run still finishes, saying why."""
    try:
        return shared_s3_client(params_for_connector(run.connector))
    except S3AccessError as exc:
        if exc.transient and not give_up_on_transient:
            raise TransientIngestError(str(exc)) from exc
        reason = f"could not connect to S3: {exc}"
    for source_file in SourceFile.objects.filter(pk__in=file_ids, state=FileState.INGESTED):
        _route_failed(source_file, reason[0].upper() + reason[1:], last_try=True)
    for file_id in file_ids:
        release_claim(run.pk, file_id, reason)
    complete_if_done(run.pk)
    return None


def release_claim(run_id: int, file_id: int, reason: str) -> None:
    """Give a file back (it will be listed again next run) and say why on the run."""
    deleted = SourceFile.objects.filter(pk=file_id, state=FileState.CLAIMED).values_list(
        "key", flat=True
    )
    keys = list(deleted)
    SourceFile.objects.filter(pk=file_id, state=FileState.CLAIMED).delete()
    if keys:
        Run.objects.filter(pk=run_id).update(files_seen=F("files_seen") - 1)
        note(run_id, f"{keys[0]}: not read this time, will be retried next run: {reason}")
    complete_if_done(run_id)


def ingest_config(connector: Connector, file_id: int) -> IngestConfig:
    fields = tuple(FieldSpec.from_field(f) for f in connector.entity_type.fields.all())
    return IngestConfig(
        entity_type_id=connector.entity_type_id,
        integration_type=connector.integration_type,
        fields=fields,
        mapping=dict(connector.field_mapping),
        tolerance=Tolerance.parse(connector.error_tolerance),
        file_token=file_id,
        connector_id=connector.pk,
        delete_limit_percent=connector.sync_delete_limit_percent,
    )


def ingest_file(client: Any, file_id: int, *, connector: Connector, config: IngestConfig) -> None:
    """Ingest one claimed file of `connector`, streaming it: its records and its ledger state
    commit together. `config` is the connector's (its file token is set here)."""
    with transaction.atomic():
        source_file = (
            SourceFile.objects.select_for_update(skip_locked=True)
            .filter(pk=file_id, state=FileState.CLAIMED)
            .first()
        )
        if source_file is None:
            return  # another worker holds it, or it is already ingested
        source_file.connector = connector
        try:
            body, source_file.object_headers = _open(client, source_file)
            try:
                outcome, failure = _parse_and_write(body, source_file, config)
            finally:
                body.close()
        except FileChanged as exc:
            _finish(source_file, FileState.SUPERSEDED, reason=str(exc))
            return
        _set_result(source_file, outcome, failure)
        _save_results([(source_file, outcome)])


def ingest_together(
    client: Any,
    file_ids: list[int],
    *,
    connector: Connector,
    config: IngestConfig,
    held: dict[int, bytes] | None = None,
) -> dict[int, str]:
    """Ingest several small claimed files: read them all at once (INGEST_S3_THREADS at a
    time, before any row is locked), then write them in one transaction that also records
    their ledger states. Returns {file id: reason} of files that could not be read for a
    passing reason (throttling, an outage): they are left claimed. The bytes of the files
    ingested are put in `held`, if given, for their moves.

    Each file's fate is its own: a file that fails leaves nothing written. Most files that
    fail do so before they write (a missing column, more bad rows than a count tolerance), so
    the batch is first written without a savepoint per file (two statements a file fewer); if
    a file fails after writing, that attempt is undone and the batch written again with one."""
    wanted = list(SourceFile.objects.filter(pk__in=file_ids, state=FileState.CLAIMED))
    for source_file in wanted:
        source_file.connector = connector  # the reading threads must not query for it
    fetched = _read_all(client, wanted)
    with transaction.atomic():
        config = replace(config, entity_locked_at=_entity_lock_for_all(config))
        locked = list(
            SourceFile.objects.select_for_update(skip_locked=True).filter(
                pk__in=[f.pk for f in wanted], state=FileState.CLAIMED
            )
        )
        try:
            with transaction.atomic():
                batch = _write_batch(locked, fetched, connector, config, guarded=False)
        except _WroteThenFailed:
            batch = _write_batch(locked, fetched, connector, config, guarded=True)
        _update_rows(batch.changed, _FINISH_FIELDS)
        _save_results(batch.written)
    if held is not None:
        held.update(batch.data)
    return batch.unread


@dataclass
class _BatchWritten:
    written: list[tuple[SourceFile, WriteOutcome]] = field(default_factory=list)
    changed: list[SourceFile] = field(default_factory=list)  # replaced or gone since listed
    unread: dict[int, str] = field(default_factory=dict)  # file id: why it was not read
    data: dict[int, bytes] = field(default_factory=dict)  # the written files' bytes


def _write_batch(
    files: list[SourceFile],
    fetched: dict[int, "Fetched"],
    connector: Connector,
    config: IngestConfig,
    *,
    guarded: bool,
) -> _BatchWritten:
    """Write the files' rows and set their results (not saved yet); see _parse_and_write for
    `guarded`."""
    batch = _BatchWritten()
    for source_file in files:
        source_file.connector = connector
        content = fetched[source_file.pk]
        if isinstance(content, FileChanged):
            _mark_finished(source_file, FileState.SUPERSEDED, reason=str(content))
            batch.changed.append(source_file)
        elif isinstance(content, Exception):
            batch.unread[source_file.pk] = str(content)
        else:
            data, source_file.object_headers = content
            outcome, failure = _parse_and_write(
                io.BytesIO(data), source_file, config, guarded=guarded
            )
            _set_result(source_file, outcome, failure)
            batch.written.append((source_file, outcome))
            batch.data[source_file.pk] = data
    return batch


def _entity_lock_for_all(config: IngestConfig) -> datetime | None:
    """The entity type locked once for the transaction's files; if it is gone, None: each
    file then finds that out and fails saying so."""
    from ingest.writer import lock_entity_type

    try:
        return lock_entity_type(config.entity_type_id)
    except FileFailed:
        return None


Fetched = tuple[bytes, dict[str, Any]] | Exception


def _read_all(client: Any, files: list[SourceFile]) -> dict[int, Fetched]:
    """{file id: (content, headers), or the FileChanged/TransientIngestError met reading it}.
    Bodies are held whole: a batch of several files is at most INGEST_BATCH_BYTES."""

    def read(source_file: SourceFile) -> Fetched:
        try:
            body, headers = _open(client, source_file)
        except (FileChanged, TransientIngestError) as exc:
            return exc
        try:
            return body.read(), headers
        except (ClientError, BotoCoreError) as exc:
            return _read_failure(exc, source_file.key)
        finally:
            body.close()

    if not files:
        return {}
    with ThreadPoolExecutor(max(1, min(settings.INGEST_S3_THREADS, len(files)))) as pool:
        return {f.pk: content for f, content in zip(files, pool.map(read, files), strict=True)}


def _with_fault_point(rows: Iterator[Any], key: str) -> Iterator[Any]:
    """Test-only: pass rows (and blocks of them) through, reaching the mid_parse fault point
    before the fourth row."""
    from ingest.parsers import PlainBlock

    seen = 0
    for item in rows:
        count = len(item.rows) if isinstance(item, PlainBlock) else 1
        if seen <= 3 < seen + count:
            faults.checkpoint("mid_parse", key=key)
        seen += count
        yield item


class FileChanged(Exception):
    """The object changed or vanished after it was listed; its new version comes next run."""


REPLACED_AFTER_LISTING = (
    "The file was replaced after it was listed; the new version will be ingested by the next run."
)


def _open(client: Any, source_file: SourceFile) -> tuple[Any, dict[str, Any]]:
    """The file's body as a stream and its headers, if it still is the version claimed."""
    try:
        return s3files.open_object(
            client, source_file.connector.s3.bucket, source_file.key, source_file.etag
        )
    except s3files.SourceReplaced as exc:  # the endpoint ignored If-Match
        raise FileChanged(REPLACED_AFTER_LISTING) from exc
    except (ClientError, BotoCoreError) as exc:
        raise _read_failure(exc, source_file.key) from exc


def _read_failure(exc: Exception, key: str) -> Exception:
    error = describe_error(exc, action=f"Reading {key}")
    if error.code in {"PreconditionFailed", "412"}:
        return FileChanged(REPLACED_AFTER_LISTING)
    if error.code in {"NoSuchKey", "404"}:
        return FileChanged("The file was deleted from the bucket before it could be read.")
    return TransientIngestError(str(error))


# What the catch-alls pass on: transient S3 and database errors (the tasks retry them; a run
# in this process gives the files back) and a file changed since it was listed.
_FOR_CALLERS = (TransientIngestError, FileChanged, OperationalError, InterfaceError)


class _WroteThenFailed(Exception):
    """A file written without a savepoint of its own failed after writing records: only
    rolling back the caller's savepoint undoes them."""


def _parse_and_write(
    body: Any, source_file: SourceFile, config: IngestConfig, *, guarded: bool = True
) -> tuple[WriteOutcome, str | None]:
    """(outcome, failure reason). Guarded, the file is written in a savepoint that undoes
    whatever it wrote if it fails (the FileFailed propagates through it first). Unguarded, a
    file that fails after writing raises _WroteThenFailed instead, for the caller to undo.

    An unexpected error (a bug, RecursionError, MemoryError) fails the file with nothing of
    it written: guarded, its savepoint is undone; unguarded, it raises _WroteThenFailed, as
    what the writer had sent is not known."""
    try:
        if guarded:
            with transaction.atomic():
                return _write_rows(body, source_file, config), None
        return _write_rows(body, source_file, config), None
    except FileFailed as exc:
        if not guarded and exc.wrote_records:
            raise _WroteThenFailed(str(exc)) from exc
        return getattr(exc, "outcome", None) or WriteOutcome(), str(exc)
    except (ClientError, BotoCoreError) as exc:  # the stream broke off
        raise _read_failure(exc, source_file.key) from exc
    except _FOR_CALLERS:
        raise
    except Exception as exc:
        if not guarded:
            raise _WroteThenFailed(str(exc)) from exc
        logger.exception(
            "file %s (%s): parsing failed unexpectedly", source_file.pk, source_file.key
        )
        return WriteOutcome(), _unexpected_failure(exc)


def _write_rows(body: Any, source_file: SourceFile, config: IngestConfig) -> WriteOutcome:
    from ingest.parsers import iter_rows
    from ingest.writer import write_file

    connector = source_file.connector
    rows = iter_rows(
        body,
        file_format=connector.file_format,
        delimiter=connector.csv_delimiter,
        key=source_file.key,
        decompression_limit=decompression_limit(source_file.size),
        plain_blocks=True,
    )
    if settings.INGEST_FAULT_POINT:
        rows = _with_fault_point(rows, source_file.key)
    return write_file(rows, replace(config, file_token=source_file.pk))


def decompression_limit(compressed_bytes: int) -> DecompressionLimit:
    """How far a gzip file of this size (as listed) may decompress (README: gzip files)."""
    return DecompressionLimit.for_file(
        compressed_bytes,
        ratio=settings.INGEST_DECOMPRESSION_RATIO,
        floor=settings.INGEST_DECOMPRESSION_FLOOR_BYTES,
        ceiling=settings.INGEST_MAX_DECOMPRESSED_BYTES,
    )


def _set_result(source_file: SourceFile, outcome: WriteOutcome, failure: str | None) -> None:
    ok = failure is None
    source_file.state = FileState.INGESTED
    source_file.outcome = FileOutcome.SUCCEEDED if ok else FileOutcome.FAILED
    source_file.failure_reason = failure or ""
    source_file.rows_total = outcome.rows_total
    source_file.records_created = outcome.created if ok else 0
    source_file.records_updated = outcome.updated if ok else 0
    source_file.records_deleted = outcome.deleted if ok else 0
    source_file.records_skipped = outcome.skipped if ok else 0
    source_file.records_failed = outcome.failed_rows
    source_file.ingested_at = timezone.now()


def _save_results(written: list[tuple[SourceFile, WriteOutcome]]) -> None:
    """The ledger rows, their row errors and their run's counters, in the caller's
    transaction: a statement each, however many files."""
    if not written:
        return
    files = [f for f, _ in written]
    _update_rows(files, _RESULT_FIELDS)
    RowErrorModel.objects.bulk_create(
        RowErrorModel(source_file=f, line=e.line, column=e.column[:255], reason=e.reason)
        for f, outcome in written
        for e in outcome.errors
    )
    for run_id in {f.run_id for f in files}:
        mine = [f for f in files if f.run_id == run_id]
        Run.objects.filter(pk=run_id).update(
            files_succeeded=F("files_succeeded")
            + sum(f.outcome == FileOutcome.SUCCEEDED for f in mine),
            files_failed=F("files_failed") + sum(f.outcome == FileOutcome.FAILED for f in mine),
            **{
                counter: F(counter) + sum(getattr(f, counter) for f in mine)
                for counter in _RUN_COUNTERS
            },
        )


def _update_rows(files: list[SourceFile], fields: list[str]) -> None:
    """Save `fields` of each file with one parameterised UPDATE sent for all of them (psycopg
    pipelines it). bulk_update's CASE per field and row took more CPU to build than the rest
    of a batch of small files."""
    if not files:
        return
    meta = SourceFile._meta
    connection = connections[router.db_for_write(SourceFile)]
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 - names from the model
    params = [
        [column.get_db_prep_save(getattr(f, column.attname), connection) for column in columns]
        + [f.pk]
        for f in files
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


_RUN_COUNTERS = (
    "records_created",
    "records_updated",
    "records_deleted",
    "records_skipped",
    "records_failed",
)
_RESULT_FIELDS = [
    "state",
    "outcome",
    "failure_reason",
    "rows_total",
    "records_created",
    "records_updated",
    "records_deleted",
    "records_skipped",
    "records_failed",
    "ingested_at",
    "object_headers",
]
_FINISH_FIELDS = [
    "state",
    "finished_at",
    "route_error",
    "failure_reason",
    "destination_key",
    "report_key",
]


def _finish(source_file: SourceFile, state: str, *, reason: str = "", not_moved: str = "") -> None:
    _mark_finished(source_file, state, reason=reason, not_moved=not_moved)
    source_file.save(update_fields=_FINISH_FIELDS)


def _mark_finished(
    source_file: SourceFile, state: str, *, reason: str = "", not_moved: str = ""
) -> None:
    """`not_moved`: why a file that should have been moved cannot be (kept as its route error)."""
    source_file.state = state
    source_file.finished_at = timezone.now()
    source_file.route_error = not_moved
    if reason:
        source_file.failure_reason = reason


# --- moving and deleting --------------------------------------------------------------------


def route_files(
    client: Any,
    connector: Connector,
    file_ids: list[int],
    *,
    held: dict[int, bytes] | None = None,
    last_try: bool = True,
) -> None:
    """Move or delete ingested files by the spec's rules; failures are kept and retried.
    `held` has the bytes of some of the files (read by this batch): those may be PUT."""
    _route(client, layout_for(connector), file_ids, held or {}, last_try=last_try)


def _route(
    client: Any,
    layout: s3files.Layout,
    file_ids: list[int],
    held: dict[int, bytes],
    *,
    last_try: bool,
) -> None:
    """Copies (and error reports) go to S3 concurrently; the ledger, whose rows this
    transaction locks, is written by this thread only."""
    with transaction.atomic():
        files = list(
            SourceFile.objects.select_for_update(skip_locked=True).filter(
                pk__in=file_ids, state=FileState.INGESTED
            )
        )
        moves = [_move_for(layout, f) for f in files]
        _plan_writes(client, layout, moves, held)
        vacant = s3files.vacant_keys(client, layout.bucket, _names_to_list(moves))
        with ThreadPoolExecutor(max(1, min(settings.INGEST_S3_THREADS, len(moves)))) as pool:
            results = list(pool.map(lambda m: _copy_to_target(client, layout, m, vacant), moves))
        to_remove: list[SourceFile] = []
        for move, remove_source in zip(moves, results, strict=True):
            if remove_source:
                to_remove.append(move.source_file)
            elif move.error:
                _route_failed(move.source_file, move.error, last_try=last_try)
            elif move.unmovable:
                _finish(move.source_file, FileState.RETAINED, not_moved=move.unmovable)
            elif move.outcome:
                _finish(move.source_file, move.outcome[0], reason=move.outcome[1])
        failures = _delete_sources(client, layout, {f.key: f.etag for f in to_remove})
        faults.checkpoint("after_delete")
        replaced = _settle_deletes(to_remove, failures, last_try=last_try)
    for source_file in replaced:
        run_id = source_file.route_run_id or source_file.run_id  # the run moving it
        if run_id is not None:
            note(run_id, _replaced_note(source_file))


def _settle_deletes(
    to_remove: list[SourceFile], failures: dict[str, tuple[str, str]], *, last_try: bool
) -> list[SourceFile]:
    """Record the files whose sources were deleted (or found replaced, which the conditional
    delete left alone) as finished, the others as not routed; return the replaced ones."""
    removed: list[SourceFile] = []
    replaced: list[SourceFile] = []
    for source_file in to_remove:
        code, message = failures.get(source_file.key, ("", ""))
        if code and code != s3files.REPLACED:
            _route_failed(
                source_file,
                f"Deleting it from the source directory failed: {code}: {message}",
                last_try=last_try,
            )
            continue
        if code:
            replaced.append(source_file)
        done = FileState.MOVED if source_file.destination_key else FileState.DELETED
        _mark_finished(source_file, done)
        removed.append(source_file)
    _update_rows(removed, _FINISH_FIELDS)
    return replaced


def _replaced_note(source_file: SourceFile) -> str:
    where = (
        f"moved to {source_file.destination_key}" if source_file.destination_key else "done with"
    )
    return (
        f"{source_file.key}: replaced in the source directory while it was being moved; the "
        f"version ingested was {where}, the new one is left there for the next run."
    )


@dataclass
class _Move:
    """Where an ingested file goes: `target` is blank when it stays or is only deleted."""

    source_file: SourceFile
    target: str
    first_choice: str = ""  # the destination key without a suffix
    report: str = ""  # the error report written next to a failed file
    outcome: tuple[str, str] | None = None  # (state, reason) to record instead of a removal
    error: str = ""
    unmovable: str = ""  # why no name under `target` can ever hold it: kept in the source
    report_if_absent: bool = False  # the report is PUT with If-None-Match (honoured)
    check_copy: bool = True  # CopySourceIfMatch is not known to be honoured: check the copy
    data: bytes | None = None  # the file's bytes, to PUT instead of copying


def _move_for(layout: s3files.Layout, source_file: SourceFile) -> _Move:
    succeeded = source_file.outcome == FileOutcome.SUCCEEDED
    target = layout.success if succeeded else layout.failed
    move = _Move(source_file, target)
    if target:
        if not succeeded:
            move.report = reports.error_report(source_file)
        try:
            move.first_choice = destination_for(
                source_file.key, layout.source, target, source_file.pk, 0, with_report=not succeeded
            )
        except DestinationTooLong as exc:
            move.unmovable = str(exc)
    return move


def _plan_writes(
    client: Any, layout: s3files.Layout, moves: list[_Move], held: dict[int, bytes]
) -> None:
    """The moves whose bytes are held, whose properties a PUT keeps, and whose directory's
    endpoint refuses a PUT over an existing name, write the bytes: no listing, and no copy.
    Error reports are PUT with that condition too where it is honoured; copies are checked
    where CopySourceIfMatch is not."""
    for move in moves:
        if not move.target or move.unmovable:
            continue
        honoured = conditions.endpoint_conditions(client, layout.bucket, move.target)
        move.check_copy = not honoured.copy_if_match
        move.report_if_absent = bool(move.report) and honoured.put_if_absent
        data = held.get(move.source_file.pk)
        if (
            data is not None
            and honoured.put_if_absent
            and s3files.can_put(move.source_file.object_headers)
        ):
            move.data = data


def _names_to_list(moves: list[_Move]) -> list[str]:
    """The names a listing checks are free: the first choices of the moves that copy, and
    their reports' names."""
    copied = [m for m in moves if m.target and not m.unmovable and m.data is None]
    return [m.first_choice for m in copied] + [
        report_key(m.first_choice) for m in copied if m.report
    ]


def _copy_to_target(client: Any, layout: s3files.Layout, move: _Move, vacant: set[str]) -> bool:
    """S3 only (it runs on a pool thread): copy the file where it goes, if anywhere. True when
    its source must now be deleted; otherwise `move` says what to record."""
    source_file = move.source_file
    if not move.target:
        if source_file.outcome == FileOutcome.SUCCEEDED:
            return True  # blank Successful Files Directory: delete from source
        move.outcome = (FileState.RETAINED, "")  # blank Failed Files Directory: keep it
        return False
    if move.unmovable:
        return False
    try:
        destination = _write_file(client, layout, move, vacant)
        if move.report and not _write_report(client, layout.bucket, move, destination):
            return False
    except DestinationTooLong as exc:  # every name short enough is taken
        move.unmovable = str(exc)
        return False
    except s3files.SourceReplaced:  # found by the check of a copy (its condition ignored)
        move.outcome = _replaced_before_moved(source_file)
        return False
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action=f"Moving it to {move.target}")
        if error.code in {"PreconditionFailed", "412"}:
            move.outcome = _replaced_before_moved(source_file)
        else:
            move.error = str(error)
        return False
    source_file.destination_key = destination
    return True


def _write_file(client: Any, layout: s3files.Layout, move: _Move, vacant: set[str]) -> str:
    """Write the file under the first free name, by a PUT of the bytes held or by a copy, or
    find the copy an earlier attempt made (checked where copies are); return its key."""
    source_file = move.source_file
    with_report = bool(move.report)
    if move.data is not None:
        destination = s3files.place_bytes(
            client,
            layout,
            source_file.key,
            move.target,
            file_id=source_file.pk,
            data=move.data,
            headers=source_file.object_headers,
            with_report=with_report,
        )
        faults.checkpoint("after_copy")
        return destination
    found: str | None = None
    if move.first_choice in vacant and (not with_report or report_key(move.first_choice) in vacant):
        destination = move.first_choice
    else:
        destination, found = s3files.free_destination(
            client, layout, source_file.key, move.target, source_file.pk, with_report=with_report
        )
    if found is not None:  # copied by an earlier attempt, which may have died before its check
        if move.check_copy:
            s3files.ensure_copy_of(
                client,
                layout.bucket,
                source_file.key,
                source_file.etag,
                copied=found,
                copy_key=destination,
            )
        return destination
    s3files.copy_object(
        client,
        layout.bucket,
        source_file.key,
        destination,
        etag=source_file.etag,
        size=source_file.size,
        file_id=source_file.pk,
        headers=source_file.object_headers,
        check=move.check_copy,
    )
    faults.checkpoint("after_copy")
    return destination


def _replaced_before_moved(source_file: SourceFile) -> tuple[str, str]:
    return (
        FileState.SUPERSEDED,
        source_file.failure_reason
        or "The file was replaced in the bucket before it could be moved; the new "
        "version will be ingested by the next run.",
    )


def _write_report(client: Any, bucket: str, move: _Move, destination: str) -> bool:
    """Write the report next to the file; if its name was taken meanwhile (found free before
    the file was written), take the file's copy back: the next try picks other names."""
    source_file = move.source_file
    name = report_key(destination)
    if s3files.put_report(
        client, bucket, name, move.report, source_file.pk, if_absent=move.report_if_absent
    ):
        source_file.report_key = name
        return True
    s3files.remove_copy(client, bucket, destination)
    move.error = f"Its error report's name {name} was taken by another object meanwhile."
    return False


def _delete_sources(
    client: Any, layout: s3files.Layout, keys: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """{key: (code, message)} of the keys not deleted ({key: ETag} are deleted if unchanged:
    checked first where the endpoint ignores the ETags of a DeleteObjects)."""
    if not keys:
        return {}
    try:
        probed_in = layout.success or layout.failed or layout.source
        honoured = conditions.endpoint_conditions(client, layout.bucket, probed_in)
        return s3files.delete_keys(client, layout.bucket, keys, check=not honoured.delete_if_match)
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action="Deleting from the source directory")
        return dict.fromkeys(keys, (error.code or "Error", str(error)))


def _route_failed(source_file: SourceFile, message: str, *, last_try: bool) -> None:
    """Count the attempt; the last try of a batch also records why (until then the file is
    still in hand: its run waits for it)."""
    source_file.route_attempts += 1
    if last_try:
        source_file.route_error = message
    source_file.save(
        update_fields=["route_attempts", "route_error", "destination_key", "report_key"]
    )
    logger.warning(
        "file %s of connector %s not routed: %s", source_file.pk, source_file.connector_id, message
    )


# --- finishing a run ------------------------------------------------------------------------


NOT_MOVED = Q(state=FileState.INGESTED) | (Q(state=FileState.RETAINED) & ~Q(route_error=""))


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


def run_inline(run: Run, *, parallel: int = 1) -> Run:
    """Run in this process (the run_connector command, benchmarks, tests); with parallel > 1,
    batches are processed by that many threads, each with its own database connection, kept
    from one batch to the next."""
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
