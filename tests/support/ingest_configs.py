"""IngestConfigs for tests of the writer, from an entity type or from bare field specs."""

from entities.models import EntityType
from entities.validation import FieldSpec
from ingest.types import IngestConfig, Tolerance


def config_for(
    entity: EntityType,
    integration_type: str = "upsert",
    *,
    token: int = 1,
    tolerance: str = "0",
    mapping: dict[str, str] | None = None,
    connector: int = 1,
    delete_limit: int = 100,
) -> IngestConfig:
    """A file's config; its records are written by `connector` (the same one unless told)."""
    fields = tuple(FieldSpec.from_field(field) for field in entity.fields.all())
    return config_of(
        fields,
        integration_type,
        entity_type_id=entity.pk,
        token=token,
        tolerance=tolerance,
        mapping=mapping,
        connector=connector,
        delete_limit=delete_limit,
    )


def config_of(
    fields: tuple[FieldSpec, ...],
    integration_type: str = "upsert",
    *,
    entity_type_id: int = 1,
    token: int = 1,
    tolerance: str = "0",
    mapping: dict[str, str] | None = None,
    connector: int = 1,
    delete_limit: int = 100,
) -> IngestConfig:
    """The same from field specs (no database), each field read from a column of its name
    unless `mapping` says otherwise."""
    return IngestConfig(
        entity_type_id=entity_type_id,
        integration_type=integration_type,
        fields=fields,
        mapping=mapping if mapping is not None else {f.name: f.name for f in fields},
        tolerance=Tolerance.parse(tolerance),
        file_token=token,
        connector_id=connector,
        delete_limit_percent=delete_limit,
    )
