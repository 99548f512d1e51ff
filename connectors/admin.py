from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from connectors import services
from connectors.models import Connector, ConnectorShare, S3Settings
from connectors.selectors import entity_access_refusal


class S3SettingsInline(admin.StackedInline):
    model = S3Settings
    can_delete = False
    # The secret is write-only: admin shows whether one is stored, never the value.
    readonly_fields = ["external_id", "secret_stored"]
    fields = [
        "bucket",
        "auth_type",
        "access_key_id",
        "secret_stored",
        "iam_role_arn",
        "external_id",
        "region",
        "endpoint_url",
        "source_path",
        "success_path",
        "failed_path",
    ]

    @admin.display(description="Access Key Secret")
    def secret_stored(self, obj: S3Settings) -> str:
        return "•••••••• (stored, encrypted)" if obj.has_secret else "(none)"


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
        cleaned = super().clean()
        owner, entity_type = cleaned.get("owner"), cleaned.get("entity_type")
        if owner is not None and entity_type is not None:
            refusal = entity_access_refusal(
                owner=owner,
                entity_type=entity_type,
                integration_type=cleaned.get("integration_type"),
            )
            if refusal is not None:
                raise ValidationError(refusal)
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
    inlines = [S3SettingsInline, ConnectorShareInline]
    actions = ["run_now"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        services.sync_schedule(obj)

    @admin.action(description="Run now")
    def run_now(self, request, queryset):  # type: ignore[no-untyped-def]
        from ingest import tasks
        from ingest.runs import RunRefused, start_run

        for connector in queryset:
            try:
                run = start_run(connector, trigger="manual", user=request.user)
            except RunRefused as exc:
                self.message_user(request, str(exc), level="error")
                continue
            transaction.on_commit(lambda run_id=run.pk: tasks.run_connector.delay(run_id))
            self.message_user(request, f"Run {run.pk} of {connector.name!r} started.")
