"""A connector's field mapping as pages show it (Review, the connector page): each entity
field by its label, in the entity's field order, with the file column it is read from."""

from collections.abc import Mapping

from entities.models import EntityType

NOT_MAPPED = "(not mapped)"


def mapping_rows(
    entity_type: EntityType | None, mapping: Mapping[str, str]
) -> list[tuple[str, str]]:
    """(field label, file column) for every field of the entity, in its order (a field the
    mapping leaves out is NOT_MAPPED); then any mapped name the entity no longer has, as is."""
    fields = list(entity_type.fields.all()) if entity_type is not None else []
    rows = [(field.display_label, mapping.get(field.name) or NOT_MAPPED) for field in fields]
    known = {field.name for field in fields}
    rows += [(name, column) for name, column in mapping.items() if name not in known]
    return rows
