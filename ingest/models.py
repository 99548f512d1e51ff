"""Runs, and the per-file ledger that makes ingestion exactly-once.

A SourceFile row is created once per (connector, key, ETag, LastModified, attempt): creating it
is the claim. The listing claims attempt 0; a retry of a failed file (ingest.redrive) claims
the next attempt of the object where the failed file is now. Its records and its INGESTED
state commit in one transaction; moving or deleting the object afterwards is a separate,
retried step that never ingests again.
"""

from django.conf import settings
from django.db import models
from django.urls import reverse

from connectors.models import Connector


class RunTrigger(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    MANUAL = "manual", "Manual"
    COMMAND = "command", "Command line"
    RETRY = "retry", "Retry"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Completed with failed files"
    # Files it ingested, or earlier runs' files it tried to move, are not where the rules say.
    UNMOVED = "unmoved", "Completed, some files not moved"
    FAILED = "failed", "Failed"


class Run(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True, help_text="Why the run as a whole failed.")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    listed_at = models.DateTimeField(null=True, blank=True, help_text="When listing finished.")
    finished_at = models.DateTimeField(null=True, blank=True)
    keys_listed = models.PositiveIntegerField(default=0)
    files_seen = models.PositiveIntegerField(default=0)
    files_succeeded = models.PositiveIntegerField(default=0)
    files_failed = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_deleted = models.PositiveIntegerField(default=0)
    records_skipped = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    notes = models.JSONField(
        default=list, blank=True, help_text="Problems met on the way that did not fail the run."
    )

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["connector", "-queued_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.connector}"

    def get_absolute_url(self) -> str:
        return reverse("ingest:run", args=[self.connector_id, self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in {RunStatus.QUEUED, RunStatus.RUNNING}

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        from django.utils import timezone

        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()


class FileState(models.TextChoices):
    CLAIMED = "claimed", "Claimed (waiting to be ingested)"
    INGESTED = "ingested", "Ingested (waiting to be moved or deleted)"
    MOVED = "moved", "Moved"
    DELETED = "deleted", "Deleted from source"
    RETAINED = "retained", "Retained in source"
    SUPERSEDED = "superseded", "Changed in the bucket before it was moved"


class FileVerdict(models.TextChoices):
    """Whether a file was ingested (SourceFile.outcome); what writing it did is an
    ingest.types.FileOutcome."""

    PENDING = "", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SourceFile(models.Model):
    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="files")
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, related_name="files")
    key = models.CharField(max_length=1024)
    etag = models.CharField(max_length=128)
    last_modified = models.DateTimeField()
    size = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=FileState.choices, default=FileState.CLAIMED)
    outcome = models.CharField(max_length=16, choices=FileVerdict.choices, blank=True, default="")
    failure_reason = models.TextField(blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    records_created = models.PositiveIntegerField(default=0)
    records_updated = models.PositiveIntegerField(default=0)
    records_deleted = models.PositiveIntegerField(default=0)
    records_skipped = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    # The object's Content-Type and user metadata as read when it was ingested: its copy keeps
    # them without asking S3 again. None until read (and for files ingested before 0002).
    object_headers = models.JSONField(null=True, blank=True)
    destination_key = models.CharField(max_length=1024, blank=True)
    report_key = models.CharField(max_length=1024, blank=True)
    route_attempts = models.PositiveIntegerField(default=0)
    route_error = models.TextField(
        blank=True,
        help_text="Why the last move or delete failed (retried), or, for a file kept in the "
        "source directory, why it cannot be moved.",
    )
    # A later run that took this file, ingested by an earlier run, to move it: that run says
    # whether it could.
    route_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # 0 for a file the listing claimed; n + 1 for a retry of a failed entry of attempt n.
    attempt = models.PositiveIntegerField(default=0)
    # The failed entry this one retries (the object where that entry's failure left it).
    retry_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retries"
    )
    # On a failed entry: the run that took it to retry it (the claim, set by a conditional
    # UPDATE; see ingest.redrive).
    retry_run = models.ForeignKey(
        Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    claimed_at = models.DateTimeField(auto_now_add=True)
    ingested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "key", "etag", "last_modified", "attempt"],
                name="source_file_once",
            )
        ]
        indexes = [
            models.Index(fields=["connector", "key"]),
            models.Index(fields=["connector", "state"]),
            models.Index(fields=["run", "state"]),
        ]

    def __str__(self) -> str:
        return self.key


class RowError(models.Model):
    """A row problem (ingest.types.RowProblem) of a file, kept for its run's page and report."""

    source_file = models.ForeignKey(SourceFile, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=255, blank=True)
    reason = models.TextField()

    class Meta:
        ordering = ["source_file", "line", "id"]
        verbose_name = "row error"

    def __str__(self) -> str:
        return f"line {self.line} {self.column}: {self.reason}"


class ConnectorLock(models.Model):
    """At most one run lists a connector's source at a time."""

    connector = models.OneToOneField(
        Connector, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lock on {self.connector_id}"
