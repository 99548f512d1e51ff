"""The ledger's writes for many files at once: a file's result (its verdict, counts and row
errors) with its run's counters, where it ended up, and a claim given back."""

from django.db import connections, router
from django.db.models import F
from django.utils import timezone

from ingest.models import FileState, FileVerdict, RowError, Run, SourceFile
from ingest.runs import complete_if_done, note
from ingest.types import FileOutcome

RUN_COUNTERS = (
    "records_created",
    "records_updated",
    "records_deleted",
    "records_skipped",
    "records_failed",
)
RESULT_FIELDS = [
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
FINISH_FIELDS = [
    "state",
    "finished_at",
    "route_error",
    "failure_reason",
    "destination_key",
    "report_key",
]


def set_result(source_file: SourceFile, outcome: FileOutcome) -> None:
    """The file as ingested, by its outcome (not saved yet): a failed file counts no records."""
    ok = outcome.failure is None
    source_file.state = FileState.INGESTED
    source_file.outcome = FileVerdict.SUCCEEDED if ok else FileVerdict.FAILED
    source_file.failure_reason = outcome.failure or ""
    source_file.rows_total = outcome.rows_total
    source_file.records_created = outcome.created if ok else 0
    source_file.records_updated = outcome.updated if ok else 0
    source_file.records_deleted = outcome.deleted if ok else 0
    source_file.records_skipped = outcome.skipped if ok else 0
    source_file.records_failed = outcome.failed_rows
    source_file.ingested_at = timezone.now()


def save_results(written: list[tuple[SourceFile, FileOutcome]]) -> None:
    """The ledger rows (set by set_result), their row errors and their runs' counters, in the
    caller's transaction: a statement each, however many files."""
    if not written:
        return
    files = [f for f, _ in written]
    update_rows(files, RESULT_FIELDS)
    RowError.objects.bulk_create(
        RowError(source_file=f, line=e.line, column=e.column[:255], reason=e.reason)
        for f, outcome in written
        for e in outcome.errors
    )
    for run_id in {f.run_id for f in files if f.run_id is not None}:
        mine = [f for f in files if f.run_id == run_id]
        Run.objects.filter(pk=run_id).update(
            files_succeeded=F("files_succeeded")
            + sum(f.outcome == FileVerdict.SUCCEEDED for f in mine),
            files_failed=F("files_failed") + sum(f.outcome == FileVerdict.FAILED for f in mine),
            **{
                counter: F(counter) + sum(getattr(f, counter) for f in mine)
                for counter in RUN_COUNTERS
            },
        )


def update_rows(files: list[SourceFile], fields: list[str]) -> None:
    """Save `fields` of each file with one parameterised UPDATE sent for all of them (psycopg
    pipelines it). bulk_update's CASE per field and row took more CPU to build than the rest
    of a batch of small files."""
    if not files:
        return
    meta = SourceFile._meta
    connection = connections[router.db_for_write(SourceFile)]
    quote = connection.ops.quote_name
    columns = [f for f in meta.concrete_fields if f.name in fields]
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


def finish(source_file: SourceFile, state: str, *, reason: str = "", not_moved: str = "") -> None:
    mark_finished(source_file, state, reason=reason, not_moved=not_moved)
    source_file.save(update_fields=FINISH_FIELDS)


def mark_finished(
    source_file: SourceFile, state: str, *, reason: str = "", not_moved: str = ""
) -> None:
    """The file's final state (not saved yet). `not_moved`: why a file that should have been
    moved cannot be (kept as its route error)."""
    source_file.state = state
    source_file.finished_at = timezone.now()
    source_file.route_error = not_moved
    if reason:
        source_file.failure_reason = reason


def release_claim(run_id: int, file_id: int, reason: str) -> None:
    """Give a file back (it will be listed again next run) and say why on the run."""
    claimed = SourceFile.objects.filter(pk=file_id, state=FileState.CLAIMED)
    keys = list(claimed.values_list("key", flat=True))
    claimed.delete()
    if keys:
        Run.objects.filter(pk=run_id).update(files_seen=F("files_seen") - 1)
        note(run_id, f"{keys[0]}: not read this time, will be retried next run: {reason}")
    complete_if_done(run_id)
