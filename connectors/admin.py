from django.contrib import admin

from connectors.models import Connector, ConnectorShare, S3Settings


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


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
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
