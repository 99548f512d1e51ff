"""Admin pages for runs (their files inline) and files (their row errors inline), read-only,
with actions that retry failed files (ingest.redrive)."""

from functools import partial

from django.contrib import admin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from connectors.models import AccessLevel, Connector
from connectors.selectors import access_level
from ingest import redrive, tasks
from ingest.models import RowError, Run, SourceFile
from ingest.runs import RunRefused


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# The ledger as a run shows it, read only.
_FILE_COLUMNS = (
    "key",
    "state",
    "outcome",
    "rows_total",
    "records_created",
    "records_updated",
    "records_failed",
    "failure_reason",
    "destination_key",
    "route_error",
)


def retry_files(
    model_admin: admin.ModelAdmin, request: HttpRequest, files: QuerySet[SourceFile]
) -> None:
    """Retry the failed files among `files`, a retry run per connector, for connectors the
    user may edit (superusers may every one); say what was started or refused."""
    connector_ids = sorted(set(files.values_list("connector_id", flat=True)))
    for connector in Connector.objects.select_related("owner", "entity_type").filter(
        pk__in=connector_ids
    ):
        if (
            not request.user.is_superuser
            and access_level(request.user, connector) < AccessLevel.EDIT
        ):
            model_admin.message_user(
                request, f"You may not retry the files of {connector.name!r}.", level="error"
            )
            continue
        try:
            run = redrive.request_retry(
                connector, files.filter(connector=connector), user=request.user
            )
        except RunRefused as exc:
            model_admin.message_user(request, f"{connector.name}: {exc}", level="error")
            continue
        transaction.on_commit(partial(tasks.retry_files.delay, run.pk))
        model_admin.message_user(request, f"Retry run {run.pk} of {connector.name!r} started.")


class SourceFileInline(admin.TabularInline):
    model = SourceFile
    fk_name = "run"  # the run that ingested it (route_run is a later run that moved it)
    extra = 0
    can_delete = False
    fields = _FILE_COLUMNS
    readonly_fields = _FILE_COLUMNS
    show_change_link = True


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "connector",
        "trigger",
        "status",
        "started_at",
        "finished_at",
        "files_succeeded",
        "files_failed",
        "records_created",
        "records_updated",
        "records_failed",
    ]
    list_filter = ["status", "trigger", "connector"]
    inlines = [SourceFileInline]
    actions = ["retry_failed_files"]

    @admin.action(description="Retry the failed files of the selected runs")
    def retry_failed_files(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        retry_files(self, request, SourceFile.objects.filter(run__in=queryset))


class RowErrorInline(admin.TabularInline):
    model = RowError
    extra = 0
    can_delete = False
    readonly_fields = ["line", "column", "reason"]


@admin.register(SourceFile)
class SourceFileAdmin(ReadOnlyAdmin):
    list_display = ["key", "connector", "run", "state", "outcome", "records_failed", "route_error"]
    list_filter = ["state", "outcome", "connector"]
    search_fields = ["key"]
    inlines = [RowErrorInline]
    actions = ["retry_selected"]

    @admin.action(description="Retry the selected failed files")
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[SourceFile]) -> None:
        retry_files(self, request, queryset)
