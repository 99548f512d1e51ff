"""The write plan: which entity field each file column fills, and what the Integration Type asks.

Made once per file from its IngestConfig; the generated cleaners of ingest.writing.compiled
are cached per plan, so the files of one connector share them.
"""

from collections.abc import Container
from dataclasses import dataclass

from connectors.models import IntegrationType
from entities.fieldtypes import FIELD_KINDS, FieldKind
from entities.models import Record
from entities.validation import FieldSpec
from ingest.types import FileFailed, IngestConfig

MAX_EXTERNAL_ID = Record._meta.get_field("external_id").max_length or 255


@dataclass(frozen=True)
class Mapped:
    """An entity field and the file column it is read from."""

    field: str
    column: str
    spec: FieldSpec

    @property
    def kind(self) -> FieldKind:
        return FIELD_KINDS[self.spec.field_type]


@dataclass(frozen=True)
class Plan:
    identifier: Mapped
    mapped: tuple[Mapped, ...]  # the identifier included
    integration_type: str

    @property
    def is_patch(self) -> bool:
        """Patch keeps the fields whose columns a row lacks (the others set them to null)."""
        return self.integration_type == IntegrationType.PATCH

    @property
    def is_sync(self) -> bool:
        """Sync deletes the connector's records the file does not name."""
        return self.integration_type == IntegrationType.SYNC

    @property
    def upserts(self) -> bool:
        """Upsert and Sync write every row, new or not, with every mapped field."""
        return self.integration_type in {IntegrationType.UPSERT, IntegrationType.SYNC}


def plan_for(config: IngestConfig) -> Plan:
    """The file's plan, or FileFailed if the connector's settings cannot be followed."""
    if config.integration_type not in IntegrationType.values:
        raise FileFailed(f"unknown Integration Type {config.integration_type!r}")
    specs = {spec.name: spec for spec in config.fields}
    mapped = tuple(
        Mapped(name, column, specs[name])
        for name, column in config.mapping.items()
        if name in specs and column
    )
    identifier = next((m for m in mapped if m.spec.is_unique_identifier), None)
    if identifier is None:
        unique = next((s.name for s in config.fields if s.is_unique_identifier), None)
        if unique is None:
            raise FileFailed("the entity has no unique identifier field")
        raise FileFailed(f"the unique identifier field {unique!r} is not mapped to a column")
    return Plan(identifier, mapped, config.integration_type)


def check_columns(columns: Container[str], plan: Plan) -> None:
    """A required field's column missing from the file fails it (checked on the first row)."""
    needed = (plan.identifier,) if plan.is_patch else plan.mapped
    for mapped in needed:
        if mapped.spec.required and mapped.column not in columns:
            raise FileFailed(
                f"the file has no column {mapped.column!r}, which is mapped to the required "
                f"field {mapped.field!r}"
            )
