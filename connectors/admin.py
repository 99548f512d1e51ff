"""Connectors in Django admin: every setting, the source's own settings through the inline
its Source declares, shares, and a Run now action."""

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from connectors import services
from connectors.models import Connector, ConnectorShare, ScheduleKind
from connectors.schedules import parse_cron, parse_timezone
from connectors.selectors import entity_access_refusal
from connectors.sources import SOURCES, source_for
from ingest import tasks
from ingest.runs import RunRefused, start_run


class ConnectorShareInline(admin.TabularInline):
    model = ConnectorShare
    extra = 0


class ConnectorAdminForm(forms.ModelForm):
    class Meta:
        model = Connector
        fields = "__all__"  # noqa: DJ007 - the admin shows every setting

    def clean(self) -> dict[str, Any]:
        """Runs act for the owner: refuse an entity or Integration Type the owner lacks access
        to, as the wizard does, rather than saving a connector whose runs would be refused."""
        super().clean()
        cleaned = self.cleaned_data
        owner, entity_type = cleaned.get("owner"), cleaned.get("entity_type")
        if owner is not None and entity_type is not None:
            refusal = entity_access_refusal(
                owner=owner,
                entity_type=entity_type,
                integration_type=cleaned.get("integration_type"),
            )
            if refusal is not None:
                raise ValidationError(refusal)
        if cleaned.get("schedule_kind") == ScheduleKind.CRON:
            for name, parse in (
                ("cron_expression", parse_cron),
                ("schedule_timezone", parse_timezone),
            ):
                try:
                    parse(cleaned.get(name) or "")
                except ValueError as error:
                    self.add_error(name, str(error))
        return cleaned


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorAdminForm
    list_display = [
        "name",
        "owner",
        "entity_type",
        "integration_type",
        "enabled",
        "schedule_active",
        "updated_at",
    ]
    list_filter = ["enabled", "integration_type", "entity_type"]
    search_fields = ["name", "description", "owner__username"]
    readonly_fields = ["periodic_task", "created_at", "updated_at"]
    actions = ["run_now"]

    def get_inlines(
        self, request: HttpRequest, obj: Connector | None
    ) -> list[type[InlineModelAdmin]]:
        """The connector's source's settings (every source's for a new one), then shares."""
        sources = [source_for(obj)] if obj is not None else list(SOURCES.values())
        source_inlines = [source.admin_inline for source in sources if source.admin_inline]
        return [*source_inlines, ConnectorShareInline]

    def save_model(
        self, request: HttpRequest, obj: Connector, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        services.sync_schedule(obj)

    def delete_model(self, request: HttpRequest, obj: Connector) -> None:
        services.delete_connector(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector in queryset:
            services.delete_connector(connector)

    @admin.action(description="Run now")
    def run_now(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector in queryset:
            try:
                run = start_run(connector, trigger="manual", user=request.user)
            except RunRefused as exc:
                self.message_user(request, str(exc), level="error")
                continue
            transaction.on_commit(partial(tasks.run_connector.delay, run.pk))
            self.message_user(request, f"Run {run.pk} of {connector.name!r} started.")
