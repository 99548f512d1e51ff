"""Connectors: what to ingest (entity settings) and where from (source settings)."""

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from connectors import crypto
from entities.models import EntityType


class IntegrationType(models.TextChoices):
    INSERT = "insert", "Insert"
    UPDATE = "update", "Update"
    UPSERT = "upsert", "Upsert"
    SYNC = "sync", "Sync"
    PATCH = "patch", "Patch"


INTEGRATION_TYPE_HELP = {
    IntegrationType.INSERT: "Adds new records only; rows whose unique identifier already exists "
    "are ignored.",
    IntegrationType.UPDATE: "Updates existing records only; rows whose unique identifier does not "
    "exist are ignored.",
    IntegrationType.UPSERT: "Updates the record when the unique identifier matches, otherwise "
    "inserts a new one.",
    IntegrationType.SYNC: "Makes the entity mirror the file: upserts every row and removes the "
    "records this connector wrote that are not in the file (records other connectors wrote are "
    "never removed). Needs delete access to the entity. A file that would remove more than the "
    "connector's deletion limit (10% of its records by default) fails, and nothing from it is "
    "written.",
    IntegrationType.PATCH: "Like Upsert, but only the columns present in the file are touched; "
    "other fields keep their values.",
}

# The Integration Types that remove records: they need delete access to the entity type.
DELETING_INTEGRATION_TYPES = frozenset({IntegrationType.SYNC})
DEFAULT_SYNC_DELETE_LIMIT_PERCENT = 10


def sync_limit_text(percent: int | None) -> str:
    """The Sync deletion limit as the Review step and the connector page show it."""
    if percent is None:
        return ""
    if percent >= 100:
        return "none (100%): a file may remove every record this connector wrote"
    return (
        f"{percent}% of the records this connector wrote (a file that would remove more fails, "
        "and nothing from it is written)"
    )


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    TSV = "tsv", "TSV (tab-separated)"
    JSON = "json", "JSON array of objects"
    NDJSON = "ndjson", "NDJSON (one JSON object per line)"


class ScheduleKind(models.TextChoices):
    INTERVAL = "interval", "Every N minutes"
    CRON = "cron", "Cron expression"


def default_schedule_timezone() -> str:
    return str(settings.TIME_ZONE)


class AccessLevel(models.IntegerChoices):
    VIEW = 1, "View (see the connector and its runs)"
    EDIT = 2, "Edit (change, run, enable and disable)"
    FULL = 3, "Full (also delete)"


class Connector(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connectors"
    )
    name = models.CharField("Connector Name", max_length=100)
    description = models.TextField(blank=True)
    entity_type = models.ForeignKey(EntityType, on_delete=models.PROTECT, related_name="+")
    integration_type = models.CharField(
        max_length=10, choices=IntegrationType.choices, default=IntegrationType.UPSERT
    )
    file_format = models.CharField(max_length=10, choices=FileFormat.choices, default="csv")
    csv_delimiter = models.CharField(max_length=1, default=",")
    file_pattern = models.CharField("Source File Prefix / pattern", max_length=255, blank=True)
    field_mapping = models.JSONField(default=dict, help_text="entity field name → file column")
    error_tolerance = models.CharField(max_length=16, default="0")
    sync_delete_limit_percent = models.PositiveSmallIntegerField(
        "Sync deletion limit (%)",
        default=DEFAULT_SYNC_DELETE_LIMIT_PERCENT,
        validators=[MaxValueValidator(100)],
        help_text="Sync fails a file that would remove more than this share of the records this "
        "connector wrote; nothing from it is written. 100: no limit.",
    )
    schedule_active = models.BooleanField(default=True)
    poll_interval_minutes = models.PositiveIntegerField(default=30)
    schedule_kind = models.CharField(
        max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.INTERVAL
    )
    cron_expression = models.CharField(
        max_length=100, blank=True, help_text="minute hour day-of-month month day-of-week"
    )
    schedule_timezone = models.CharField(
        max_length=64, default=default_schedule_timezone, help_text="IANA name, for cron"
    )
    enabled = models.BooleanField(default=True)
    source_type = models.CharField("Entity Source", max_length=20, default="s3")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Every change, who made it and when (connectors.history shows them on the connector page);
    # updated_at and the beat entry change with every save and say nothing of their own.
    history = HistoricalRecords(excluded_fields=["updated_at", "periodic_task"])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="connector_unique_name_per_owner"
            ),
            models.CheckConstraint(
                condition=models.Q(sync_delete_limit_percent__lte=100),
                name="connector_sync_delete_limit_at_most_100",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("connectors:detail", args=[self.pk])

    @property
    def deletes_records(self) -> bool:
        return self.integration_type in DELETING_INTEGRATION_TYPES

    @property
    def sync_limit_display(self) -> str:
        return sync_limit_text(self.sync_delete_limit_percent)


class ConnectorShare(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="shares")
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="connector_shares")
    access = models.PositiveSmallIntegerField(choices=AccessLevel.choices, default=AccessLevel.VIEW)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connector", "group"], name="share_unique_group")
        ]

    def __str__(self) -> str:
        return f"{self.connector} → {self.group} ({self.get_access_display()})"


class AuthType(models.TextChoices):
    ACCESS_KEY = "access_key", "Access Key ID and Secret"
    IAM_ROLE = "iam_role", "IAM role"


def new_external_id() -> str:
    return "loadbay-" + secrets.token_hex(16)


class S3Settings(models.Model):
    connector = models.OneToOneField(Connector, on_delete=models.CASCADE, related_name="s3")
    bucket = models.CharField("Bucket", max_length=63)
    auth_type = models.CharField("Authentication Type", max_length=16, choices=AuthType.choices)
    access_key_id = models.CharField("Access Key ID", max_length=128, blank=True)
    # Always a crypto token (never plain text); see connectors.crypto.
    access_key_secret_encrypted = models.TextField(blank=True, editable=False)
    iam_role_arn = models.CharField("IAM ARN", max_length=2048, blank=True)
    external_id = models.CharField(max_length=64, default=new_external_id, editable=False)
    region = models.CharField("Region", max_length=32, blank=True)
    endpoint_url = models.CharField("S3 Endpoint URL", max_length=255, blank=True)
    source_path = models.CharField("Source Files Directory Path", max_length=1024, blank=True)
    success_path = models.CharField("Successful Files Directory Path", max_length=1024, blank=True)
    failed_path = models.CharField("Failed Files Directory Path", max_length=1024, blank=True)
    # When the stored secret last changed (set, replaced, removed or re-encrypted): what the
    # history keeps of it, so a change shows as "changed" and no form of the secret is kept.
    access_key_secret_changed_at = models.DateTimeField(
        "Access Key Secret", null=True, blank=True, editable=False
    )
    history = HistoricalRecords(excluded_fields=["access_key_secret_encrypted"])

    class Meta:
        verbose_name = "S3 settings"
        verbose_name_plural = "S3 settings"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.source_path}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save, noting when the stored secret changed (whoever saves: wizard, admin,
        rotate_secrets) in access_key_secret_changed_at, the field its history shows."""
        if self._secret_changed():
            self.access_key_secret_changed_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "access_key_secret_changed_at"}
        super().save(*args, **kwargs)

    def _secret_changed(self) -> bool:
        if self._state.adding:
            return bool(self.access_key_secret_encrypted)
        stored = S3Settings.objects.filter(pk=self.pk).values_list(
            "access_key_secret_encrypted", flat=True
        )
        return (stored.first() or "") != self.access_key_secret_encrypted

    @property
    def has_secret(self) -> bool:
        return bool(self.access_key_secret_encrypted)

    def access_key_secret(self) -> str:
        return crypto.decrypt(self.access_key_secret_encrypted)
