"""A claimed file's transaction, or the one a batch of small files shares: its rows parsed and
written, and its result saved in the ledger with them; each file's outcome is its own.

Exactly once: a file's records and its INGESTED state commit together while its ledger row is
locked (FOR UPDATE SKIP LOCKED: a file another worker holds is left to it). A file's outcome
is a value (FileOutcome: `failure` None if it succeeded); a file that failed after writing
records has them undone by rolling back its savepoint, or its batch's (see ingest_together).
"""

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction

from connectors.models import Connector
from entities.validation import FieldSpec
from ingest import faults, ledger
from ingest.errors import FOR_CALLERS, FileChanged
from ingest.models import FileState, SourceFile
from ingest.parsers import DecompressionLimit, PlainBlock, iter_rows
from ingest.reading import Content, Unread, open_file, read_all, why_unread
from ingest.runs import what_went_wrong
from ingest.types import DbTime, FileFailed, FileOutcome, IngestConfig, Tolerance
from ingest.writing import lock_entity_type, write_file

logger = logging.getLogger(__name__)


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
            body, source_file.object_headers = open_file(client, source_file)
            try:
                outcome = _parse_and_write(body, source_file, config, guarded=True)
            finally:
                body.close()
        except FileChanged as exc:
            ledger.finish(source_file, FileState.SUPERSEDED, reason=str(exc))
            return
        ledger.set_result(source_file, outcome)
        ledger.save_results([(source_file, outcome)])


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
    a file fails after writing, that attempt is rolled back and the batch written again with
    one."""
    wanted = list(SourceFile.objects.filter(pk__in=file_ids, state=FileState.CLAIMED))
    for source_file in wanted:
        source_file.connector = connector  # the reading threads must not query for it
    fetched = read_all(client, wanted)
    with transaction.atomic():
        config = replace(config, entity_locked_at=_entity_lock_for_all(config))
        locked = list(
            SourceFile.objects.select_for_update(skip_locked=True).filter(
                pk__in=[f.pk for f in wanted], state=FileState.CLAIMED
            )
        )
        with transaction.atomic():  # one savepoint for the batch
            batch = _write_batch(locked, fetched, connector, config, guarded=False)
            if batch.wrote_then_failed:
                transaction.set_rollback(True)  # undo the attempt, back to the savepoint
        if batch.wrote_then_failed:
            batch = _write_batch(locked, fetched, connector, config, guarded=True)
        ledger.update_rows(batch.changed, ledger.FINISH_FIELDS)
        ledger.save_results(batch.written)
    if held is not None:
        held.update(batch.data)
    return batch.unread


@dataclass
class _BatchWritten:
    written: list[tuple[SourceFile, FileOutcome]] = field(default_factory=list)
    changed: list[SourceFile] = field(default_factory=list)  # replaced or gone since listed
    unread: dict[int, str] = field(default_factory=dict)  # file id: why it was not read
    data: dict[int, bytes] = field(default_factory=dict)  # the written files' bytes
    # Unguarded, a file failed after writing records: the attempt must be rolled back (and
    # stopped there).
    wrote_then_failed: bool = False


def _write_batch(
    files: list[SourceFile],
    fetched: dict[int, Content | Unread],
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
        if isinstance(content, Unread):
            if content.changed:
                ledger.mark_finished(source_file, FileState.SUPERSEDED, reason=content.reason)
                batch.changed.append(source_file)
            else:
                batch.unread[source_file.pk] = content.reason
            continue
        source_file.object_headers = content.headers
        outcome = _parse_and_write(io.BytesIO(content.data), source_file, config, guarded=guarded)
        if not guarded and outcome.failure is not None and outcome.wrote_records:
            batch.wrote_then_failed = True
            return batch
        ledger.set_result(source_file, outcome)
        batch.written.append((source_file, outcome))
        batch.data[source_file.pk] = content.data
    return batch


def _entity_lock_for_all(config: IngestConfig) -> DbTime | None:
    """The entity type locked once for the transaction's files; if it is gone, None: each
    file then finds that out and fails saying so."""
    try:
        return lock_entity_type(config.entity_type_id)
    except FileFailed:
        return None


def _parse_and_write(
    body: Any, source_file: SourceFile, config: IngestConfig, *, guarded: bool
) -> FileOutcome:
    """The file's outcome. Guarded, the file is written in a savepoint of its own, rolled
    back if it fails after writing. Unguarded, nothing is undone here: the caller must roll
    back when the outcome failed after writing (`failure` and `wrote_records` set).

    An unexpected error (a bug, RecursionError, MemoryError) fails the file with nothing of
    it written: guarded, its savepoint is undone; unguarded, what the writer had sent is not
    known, so the outcome says it wrote records."""
    try:
        if not guarded:
            return _write_rows(body, source_file, config)
        with transaction.atomic():
            outcome = _write_rows(body, source_file, config)
            if outcome.failure is not None and outcome.wrote_records:
                transaction.set_rollback(True)  # back to the savepoint: nothing of it stays
            return outcome
    except (ClientError, BotoCoreError) as exc:  # the stream broke off
        raise why_unread(exc, source_file.key).error() from exc
    except FOR_CALLERS:
        raise
    except Exception as exc:
        if guarded:
            logger.exception(
                "file %s (%s): parsing failed unexpectedly", source_file.pk, source_file.key
            )
        return FileOutcome(failure=unexpected_failure(exc), wrote_records=not guarded)


def _write_rows(body: Any, source_file: SourceFile, config: IngestConfig) -> FileOutcome:
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


def fail_claimed_file(file_id: int, reason: str) -> None:
    """Record a claimed file as failed, with nothing written, to be routed as failed files
    are (unless a worker holds it, or it is no longer claimed)."""
    with transaction.atomic():
        source_file = (
            SourceFile.objects.select_for_update(skip_locked=True)
            .filter(pk=file_id, state=FileState.CLAIMED)
            .first()
        )
        if source_file is not None:
            outcome = FileOutcome(failure=reason)
            ledger.set_result(source_file, outcome)
            ledger.save_results([(source_file, outcome)])


def unexpected_failure(exc: BaseException) -> str:
    return (
        f"an unexpected error stopped processing this file: {what_went_wrong(exc)}; nothing "
        "from it was written. This is a fault in Loadbay, not necessarily in the file; the "
        "worker's log has the details."
    )


def _with_fault_point(rows: Iterator[Any], key: str) -> Iterator[Any]:
    """Test-only: pass rows (and blocks of them) through, reaching the mid_parse fault point
    before the fourth row."""
    seen = 0
    for item in rows:
        count = len(item.rows) if isinstance(item, PlainBlock) else 1
        if seen <= 3 < seen + count:
            faults.checkpoint("mid_parse", key=key)
        seen += count
        yield item
