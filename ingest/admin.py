"""Admin pages for runs (their files inline) and files (their row errors inline), read-only."""

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from ingest.models import RowError, Run, SourceFile


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
