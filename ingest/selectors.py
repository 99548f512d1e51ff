"""Reads for run pages."""

from django.db.models import Exists, OuterRef, QuerySet

from connectors.models import Connector
from ingest.models import FileState, Run, SourceFile
from ingest.redrive import RETRYABLE


def runs_of(connector: Connector, *, trigger: str = "") -> QuerySet[Run]:
    runs = Run.objects.filter(connector=connector)
    return runs.filter(trigger=trigger) if trigger else runs


def files_of(run: Run) -> QuerySet[SourceFile]:
    """A run's files for its page: each with its row errors, the run that retried it (if
    any), and `retryable` (whether it may be retried now; ingest.redrive)."""
    return (
        run.files.select_related("retry_run", "retry_of__run")
        .prefetch_related("row_errors")
        .annotate(retryable=Exists(SourceFile.objects.filter(RETRYABLE, pk=OuterRef("pk"))))
        .order_by("id")
    )


def files_waiting_to_move(connector: Connector) -> QuerySet[SourceFile]:
    """Ingested files whose move failed (retried on every run), and those kept in the source
    directory because they cannot be moved (not retried)."""
    return SourceFile.objects.filter(
        connector=connector, state__in=[FileState.INGESTED, FileState.RETAINED]
    ).exclude(route_error="")


def run_progress(run: Run) -> dict[str, object]:
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "active": run.is_active,
        "keys_listed": run.keys_listed,
        "files_seen": run.files_seen,
        "files_done": run.files_succeeded + run.files_failed,
        "files_succeeded": run.files_succeeded,
        "files_failed": run.files_failed,
        "records_created": run.records_created,
        "records_updated": run.records_updated,
        "records_deleted": run.records_deleted,
        "records_skipped": run.records_skipped,
        "records_failed": run.records_failed,
        "error": run.error,
        "duration_seconds": run.duration_seconds,
    }
