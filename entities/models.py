"""Entity types (System, Standard, Custom), their fields, and the records ingested into them."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Now
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from simple_history.models import HistoricalRecords

field_name_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,62}$",
    "Use lower-case letters, digits and underscores, starting with a letter.",
)


class TransactionNow(Now):
    """The current time; on PostgreSQL the transaction's start (CURRENT_TIMESTAMP, where Now()
    is the statement's), so every record a file writes gets the same time whichever of its
    statements wrote it: the time the ingest writer gives records (ingest.writing)."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        return self.as_sql(compiler, connection, template="CURRENT_TIMESTAMP", **extra_context)


class EntityCategory(models.TextChoices):
    SYSTEM = "system", "System entities"
    STANDARD = "standard", "Standard entities"
    CUSTOM = "custom", "Custom entities"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    INTEGER = "integer", "Integer"
    DECIMAL = "decimal", "Decimal"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date (YYYY-MM-DD)"
    DATETIME = "datetime", "Date and time (ISO 8601)"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"


class EntityType(models.Model):
    name = models.CharField(max_length=100, unique=True)
    category = models.CharField(
        max_length=16, choices=EntityCategory.choices, default=EntityCategory.CUSTOM
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Every change, who made it and when (shown on the pages of connectors writing into it).
    history = HistoricalRecords()

    class Meta:
        ordering = ["category", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def unique_field(self) -> "EntityField | None":
        return self.fields.filter(is_unique_identifier=True).first()


class EntityField(models.Model):
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=63, validators=[field_name_validator])
    label = models.CharField(max_length=100, blank=True)
    field_type = models.CharField(max_length=16, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    is_unique_identifier = models.BooleanField(
        default=False, help_text="The field that identifies a record; exactly one per entity."
    )
    max_length = models.PositiveIntegerField(null=True, blank=True)
    validation_regex = models.CharField(
        max_length=500,
        blank=True,
        help_text="Optional regular expression the whole value must match.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["entity_type", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity_type", "name"], name="entity_field_unique_name"
            ),
            models.UniqueConstraint(
                fields=["entity_type"],
                condition=models.Q(is_unique_identifier=True),
                name="entity_one_unique_identifier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_type.name}.{self.name}"

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class Record(models.Model):
    """One entity record, identified by (entity type, unique identifier value)."""

    # No index of its own: the unique (entity_type, external_id) index serves lookups by entity
    # type, and a second index would be maintained for every record written.
    # No foreign key constraint in the database either: its trigger ran for every row written,
    # 40% of PostgreSQL's work loading a file (BENCHMARKS.md). The same guarantee comes from two
    # locks instead: the ingest writer locks the entity type row FOR KEY SHARE once per file
    # (what the trigger did once per row) and fails the file if it is gone, and deleting an
    # entity type locks its row first (lock_before_delete), so it waits for files being written
    # and then deletes their records with the rest (on_delete=CASCADE, done by Django).
    entity_type = models.ForeignKey(
        EntityType,
        on_delete=models.CASCADE,
        related_name="records",
        db_index=False,
        db_constraint=False,
    )
    external_id = models.CharField(max_length=255)
    data = models.JSONField(default=dict)
    # The ingest ledger entry (ingest.SourceFile id) that last wrote this record: lets Sync
    # remove what a file no longer holds and spots a unique id repeated within one file.
    last_file_id = models.BigIntegerField(null=True, blank=True)
    # The connector (connectors.Connector id) that last wrote this record, set by every write
    # of the ingest writer: Sync removes only records its own connector wrote. No foreign key,
    # like last_file_id (records outlive a deleted connector). No index either: Sync's count
    # and delete read the entity's records as its delete did before, about 0.2 s a million;
    # an index would spare that only to connectors with few records in a big entity, and
    # costs every record written.
    connector_id = models.BigIntegerField(null=True, blank=True)
    # Defaults in the database too, so that COPY leaves them out: PostgreSQL parsing two
    # timestamps per row was about a tenth of a load's work.
    created_at = models.DateTimeField(auto_now_add=True, db_default=TransactionNow())
    updated_at = models.DateTimeField(auto_now=True, db_default=TransactionNow())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity_type", "external_id"], name="record_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.entity_type.name} {self.external_id}"


class EntityRight(models.IntegerChoices):
    WRITE = 1, "Write (Insert, Update, Upsert, Patch)"
    DELETE = 2, "Write and delete (also Sync)"


class EntityAccess(models.Model):
    """A user's or a group's right to write records into an entity type, and with DELETE to
    remove them too (Integration Type Sync). Superusers have every right; an entity type
    nobody was given access to is written by superusers only. Read through entities.access."""

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="access")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="entity_access",
    )
    group = models.ForeignKey(
        Group, on_delete=models.CASCADE, null=True, blank=True, related_name="entity_access"
    )
    level = models.PositiveSmallIntegerField(choices=EntityRight.choices, default=EntityRight.WRITE)

    class Meta:
        verbose_name = "access"
        verbose_name_plural = "access"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, group__isnull=True)
                | models.Q(user__isnull=True, group__isnull=False),
                name="entity_access_user_or_group",
                violation_error_message="Give access to a user or to a group (one of them).",
            ),
            models.UniqueConstraint(
                fields=["entity_type", "user"],
                condition=models.Q(user__isnull=False),
                name="entity_access_unique_user",
            ),
            models.UniqueConstraint(
                fields=["entity_type", "group"],
                condition=models.Q(group__isnull=False),
                name="entity_access_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.group} → {self.entity_type} ({self.get_level_display()})"


@receiver(pre_delete, sender=EntityType)
def lock_before_delete(sender: type[EntityType], instance: EntityType, **kwargs: Any) -> None:
    """Deleting an entity type waits for the files being written into it: their writers hold
    its row FOR KEY SHARE, which this lock conflicts with. Django sends this inside the
    deletion's transaction before deleting the records, so the records those files commit are
    deleted with the rest, and a file started afterwards finds the entity type gone."""
    EntityType.objects.select_for_update().filter(pk=instance.pk).exists()
