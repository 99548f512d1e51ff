"""Alerts: a connector's notification settings, each alert sent (one per run at most), each
webhook delivery attempt, and which files not moved have been alerted on."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from connectors import crypto
from connectors.models import Connector
from ingest.models import Run, SourceFile


class AlertEvent(models.TextChoices):
    RUN_FAILED = "run_failed", "Run failed"
    FILES_FAILED = "files_failed", "Files failed in a run"
    FILES_NOT_MOVED = "files_not_moved", "Files not moved for longer than N hours"
    CONNECTOR_DISABLED = "connector_disabled", "Connector disabled by the system"


class AlertSettings(models.Model):
    """Who hears about what, for one connector. Kept out of the change history on purpose:
    the webhook secret must never be copied anywhere."""

    connector = models.OneToOneField(
        Connector, on_delete=models.CASCADE, related_name="alert_settings"
    )
    # One address per line, validated and lower-cased by the form.
    email_recipients = models.TextField("E-mail recipients", blank=True)
    webhook_url = models.CharField("Webhook URL", max_length=2048, blank=True)
    # Always a connectors.crypto token (never plain text); shown once, when generated.
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    on_run_failed = models.BooleanField(AlertEvent.RUN_FAILED.label, default=True)
    on_files_failed = models.BooleanField(AlertEvent.FILES_FAILED.label, default=True)
    on_files_not_moved = models.BooleanField(AlertEvent.FILES_NOT_MOVED.label, default=True)
    on_connector_disabled = models.BooleanField(AlertEvent.CONNECTOR_DISABLED.label, default=True)
    not_moved_hours = models.PositiveIntegerField(
        "N (hours)", default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 365)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alert settings"
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"alerts of {self.connector}"

    @property
    def recipients(self) -> list[str]:
        return [line for line in self.email_recipients.split() if line]

    @property
    def has_secret(self) -> bool:
        return bool(self.webhook_secret_encrypted)

    def webhook_secret(self) -> str:
        return crypto.decrypt(self.webhook_secret_encrypted)

    def wants(self, event: str) -> bool:
        return bool(getattr(self, f"on_{event}", False))

    @property
    def events(self) -> list[str]:
        return [str(event.label) for event in AlertEvent if self.wants(event.value)]


class Alert(models.Model):
    """One message about one event: what the e-mail says and what the webhook gets."""

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="alerts")
    event = models.CharField(max_length=32, choices=AlertEvent.choices)
    run = models.ForeignKey(Run, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    payload = models.JSONField()
    email_sent_at = models.DateTimeField(null=True, blank=True)
    email_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One message per run, however often its end is announced.
            models.UniqueConstraint(
                fields=["run"], condition=models.Q(run__isnull=False), name="alert_once_per_run"
            )
        ]

    def __str__(self) -> str:
        return self.subject


class WebhookAttempt(models.Model):
    """One try at delivering an alert to the connector's webhook (the connector page shows
    the latest 20)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="attempts")
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="+")
    attempted_at = models.DateTimeField(auto_now_add=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    delivered = models.BooleanField(default=False)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["connector", "-attempted_at"])]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of alert {self.alert_id}"


class NotMovedNotice(models.Model):
    """A file not moved that an alert has named: each file is alerted on once."""

    source_file = models.OneToOneField(SourceFile, on_delete=models.CASCADE, related_name="+")
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"file {self.source_file_id} in alert {self.alert_id}"
