"""The change history shown on a connector's page: who changed what and when, before and after,
in the connector, its source settings (each Source's `settings_model`), its shares, its entity
type and that type's fields.

django-simple-history keeps a full copy of each of those rows at every save and delete (the
`history` of each model, with the user of the request that saved it: HistoryRequestMiddleware).
A secret is never in those copies (each model excludes it); what is kept instead is when it
last changed (`<secret field>_changed_at`, such as S3Settings.access_key_secret_changed_at),
shown here only as "changed".
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db import models
from simple_history.models import HistoryManager
from simple_history.utils import get_history_manager_for_model

from connectors.models import Connector, ConnectorShare
from connectors.sources import SOURCES
from connectors.sources.base import Source
from entities.models import EntityField, EntityType

# Entries the page shows, newest first.
SHOWN_ENTRIES = 50
# Fields never listed as changes: keys, links to the owning row, timestamps of their own.
NOT_SHOWN = frozenset({"id", "connector", "created_at", "external_id"})
# Fields that stand for a secret (when it last changed): their history says "changed".
SECRET_MARKERS = frozenset(
    f"{name}_changed_at" for source in SOURCES.values() for name in source.secret_fields
)
ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}
NO_USER = "no user (a command or a task)"


@dataclass(frozen=True)
class FieldChange:
    label: str
    before: str
    after: str
    secret: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    subject: str
    action: str
    changes: tuple[FieldChange, ...] = ()
    note: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Tracked:
    """A model whose history the page shows: which of its records concern a connector, and
    what a record is called ("Share with data-team")."""

    model: type[models.Model]
    history: HistoryManager
    concerning: Callable[[Connector], dict[str, Any]]
    subject: Callable[[Any], str]


def _source_settings(source: Source, model: type[models.Model]) -> Tracked:
    """A source's settings (its `settings_model`), called after the source."""
    subject = f"Source settings ({source.label})"
    return Tracked(
        model,
        get_history_manager_for_model(model),
        lambda c: {"connector_id": c.pk},
        lambda r: subject,
    )


TRACKED = (
    Tracked(Connector, Connector.history, lambda c: {"id": c.pk}, lambda r: "Connector"),
    *(
        _source_settings(source, model)
        for source in SOURCES.values()
        if (model := source.settings_model) is not None
    ),
    Tracked(
        ConnectorShare,
        ConnectorShare.history,
        lambda c: {"connector_id": c.pk},
        lambda r: f"Share with {_related_name(Group, r.group_id)}",
    ),
    Tracked(
        EntityType,
        EntityType.history,
        lambda c: {"id": c.entity_type_id},
        lambda r: f"Entity type {r.name}",
    ),
    Tracked(
        EntityField,
        EntityField.history,
        lambda c: {"entity_type_id": c.entity_type_id},
        lambda r: f"Field {r.name} of entity type {_related_name(EntityType, r.entity_type_id)}",
    ),
)


def connector_history(connector: Connector, *, limit: int = SHOWN_ENTRIES) -> list[HistoryEntry]:
    """The newest `limit` changes to the connector and its entity type, newest first; saves
    that changed nothing shown are left out."""
    entries = [entry for tracked in TRACKED for entry in _entries(tracked, connector)]
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries[:limit]


def _entries(tracked: Tracked, connector: Connector) -> Iterator[HistoryEntry]:
    records = tracked.history.filter(**tracked.concerning(connector)).select_related("history_user")
    by_object: dict[Any, list[Any]] = defaultdict(list)
    for record in records.order_by("history_date", "history_id"):
        by_object[record.id].append(record)
    fields = _shown_fields(tracked)
    for versions in by_object.values():
        previous = None
        for record in versions:
            entry = _entry(tracked, record, previous, fields)
            if entry is not None:
                yield entry
            previous = record


def _entry(
    tracked: Tracked, record: Any, previous: Any, fields: dict[str, "models.Field[Any, Any]"]
) -> HistoryEntry | None:
    action = ACTIONS[record.history_type]
    changes: tuple[FieldChange, ...] = ()
    note = ""
    if action == "changed":
        if previous is None:
            note = "Its values before this change were not recorded (history began later)."
        else:
            # By hand, not the library's diff_against: that skips fields no form edits, such
            # as the secret's marker.
            changes = tuple(
                _change(field, getattr(previous, field.attname), getattr(record, field.attname))
                for field in fields.values()
                if getattr(previous, field.attname) != getattr(record, field.attname)
            )
            if not changes:
                return None
    user = record.history_user
    return HistoryEntry(
        when=record.history_date,
        who=user.get_username() if user is not None else NO_USER,
        subject=tracked.subject(record),
        action=action,
        changes=changes,
        note=note,
        reason=record.history_change_reason or "",
    )


def _shown_fields(tracked: Tracked) -> dict[str, "models.Field[Any, Any]"]:
    """The model's fields its history keeps and the page lists, by name."""
    kept = {field.name for field in tracked.history.model._meta.concrete_fields}
    return {
        field.name: field
        for field in tracked.model._meta.concrete_fields
        if field.name in kept and field.name not in NOT_SHOWN
    }


def _change(field: "models.Field[Any, Any]", before: Any, after: Any) -> FieldChange:
    label = str(field.verbose_name)
    label = label[:1].upper() + label[1:]
    if field.name in SECRET_MARKERS:
        return FieldChange(label, "", "", secret=True)
    return FieldChange(label, _shown(field, before), _shown(field, after))


def _shown(field: "models.Field[Any, Any]", value: Any) -> str:
    if value is None or value == "":
        return "(blank)"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, models.BooleanField):
        return "yes" if value else "no"
    if field.is_relation and field.related_model is not None:
        return _related_name(field.related_model, value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _related_name(model: Any, pk: Any) -> str:
    """What the related row is called (a user's name, a group's, an entity type's)."""
    related = model._default_manager.filter(pk=pk).first()
    return str(related) if related is not None else f"#{pk} (deleted)"
