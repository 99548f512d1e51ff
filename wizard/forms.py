"""The wizard's forms, but Source Specific Settings' (which each source provides; see
connectors.sources)."""

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from connectors.models import (
    DEFAULT_SYNC_DELETE_LIMIT_PERCENT,
    DELETING_INTEGRATION_TYPES,
    INTEGRATION_TYPE_HELP,
    Connector,
    FileFormat,
    IntegrationType,
)
from connectors.selectors import entity_access_refusal
from connectors.sources import DEFAULT_SOURCE, source_choices
from entities.access import writable_entity_types
from entities.models import EntityCategory, EntityType
from wizard.schedule_form import ScheduleForm

TOLERANCE_RE = re.compile(r"^(\d{1,9})(%?)$")
DELIMITERS = [
    (",", "Comma ( , )"),
    (";", "Semicolon ( ; )"),
    ("|", "Pipe ( | )"),
    (":", "Colon ( : )"),
    ("^", "Caret ( ^ )"),
]
MAPPING_PREFIX = "map__"


def _text(form: forms.Form, name: str) -> str:
    """A text field's cleaned value, stripped."""
    value: str = form.cleaned_data[name]
    return value.strip()


def grouped_entity_choices(
    entity_types: Iterable[EntityType],
) -> list[tuple[str, list[tuple[int, str]]]]:
    groups: dict[str, list[tuple[int, str]]] = {label: [] for _, label in EntityCategory.choices}
    labels = dict(EntityCategory.choices)
    for entity in sorted(entity_types, key=lambda e: e.name):
        groups[labels[entity.category]].append((entity.pk, entity.name))
    return [(label, items) for label, items in groups.items() if items]


class EntityAccessMixin:
    """The forms of the steps that choose what the connector writes, and how: they know who
    saves it (`actor`) and whose access its runs use (`owner`); see
    connectors.selectors.entity_access_refusal."""

    def set_people(self, actor: Any, owner: Any) -> None:
        self.actor = actor
        self.owner = owner if owner is not None else actor

    def access_refusal(self, entity_type: EntityType, integration_type: str | None) -> str | None:
        return entity_access_refusal(
            owner=self.owner,
            actor=self.actor,
            entity_type=entity_type,
            integration_type=integration_type,
        )


class EntitySelectionForm(EntityAccessMixin, forms.Form):
    entity = forms.TypedChoiceField(
        label="Entity",
        coerce=int,
        help_text="The kind of record the files contain. Only entities you may write into are "
        "listed; an administrator gives access per entity.",
        error_messages={
            "invalid_choice": "Choose one of the listed entities (you may write into those only)."
        },
    )

    def __init__(self, *args: Any, actor: Any, owner: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.set_people(actor, owner)
        writable = self._writable()
        self.no_entities = not writable
        cast(forms.ChoiceField, self.fields["entity"]).choices = [
            ("", "Choose an entity…"),
            *grouped_entity_choices(writable),
        ]

    def _writable(self) -> list[EntityType]:
        """The entity types both the acting user and the owner may write into."""
        writable = writable_entity_types(self.actor)
        if self.owner.pk != self.actor.pk:
            writable = writable.filter(pk__in=writable_entity_types(self.owner).values("pk"))
        return list(writable)

    def clean_entity(self) -> EntityType:
        entity_type = EntityType.objects.filter(pk=self.cleaned_data["entity"]).first()
        if entity_type is None:
            raise ValidationError("Choose one of the listed entities.")
        refusal = self.access_refusal(entity_type, None)
        if refusal is not None:
            raise ValidationError(refusal)
        return entity_type


class EntitySettingsForm(EntityAccessMixin, ScheduleForm):
    integration_type = forms.ChoiceField(
        label="Integration Type",
        choices=IntegrationType.choices,
        initial=IntegrationType.UPSERT,
        widget=forms.RadioSelect,
    )
    file_format = forms.ChoiceField(
        label="File format",
        choices=FileFormat.choices,
        initial=FileFormat.CSV,
        help_text="Files ending in .gz are decompressed first, whatever the format.",
    )
    csv_delimiter = forms.ChoiceField(
        label="CSV Delimiter", choices=DELIMITERS, initial=",", required=False
    )
    file_pattern = forms.CharField(
        label="Source File Prefix / pattern",
        required=False,
        max_length=255,
        help_text="Which files this connector takes, matched against the file name inside the "
        "source directory: a prefix such as profiles_ or a pattern such as profiles_*.csv. "
        "Blank: every file.",
    )
    error_tolerance = forms.CharField(
        label="Bad rows allowed per file",
        initial="0",
        max_length=11,
        help_text="0: any invalid row fails the whole file and nothing from it is written. "
        "A number (e.g. 10) or a percentage (e.g. 2%) lets good rows through and reports the bad.",
    )
    sync_delete_limit_percent = forms.IntegerField(
        label="Sync deletion limit (%)",
        min_value=0,
        max_value=100,
        initial=DEFAULT_SYNC_DELETE_LIMIT_PERCENT,
        required=False,
        help_text="Sync fails a file that would remove more than this share of the records this "
        "connector wrote (the run says how many it would have removed), and nothing from the "
        "file is written: a truncated or wrong file cannot wipe the entity. 100: no limit.",
    )

    def __init__(
        self,
        *args: Any,
        entity_type: EntityType | None = None,
        actor: Any,
        owner: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.set_people(actor, owner)
        self.entity_type = entity_type
        self.integration_help = [
            (value, label, INTEGRATION_TYPE_HELP[IntegrationType(value)])
            for value, label in IntegrationType.choices
        ]
        self.fields["integration_type"].help_text = " ".join(
            f"{label}: {text}" for _, label, text in self.integration_help
        )

    def clean_file_pattern(self) -> str:
        pattern = _text(self, "file_pattern")
        if "/" in pattern:
            raise ValidationError(
                "The prefix or pattern applies to file names inside the source directory; "
                "put directories in the Source Files Directory Path instead."
            )
        return pattern

    def clean_error_tolerance(self) -> str:
        value = _text(self, "error_tolerance").replace(" ", "")
        match = TOLERANCE_RE.match(value)
        if not match:
            raise ValidationError("Enter a whole number such as 10, or a percentage such as 2%.")
        if match.group(2) and int(match.group(1)) > 100:
            raise ValidationError("A percentage cannot be more than 100%.")
        return value

    def clean_integration_type(self) -> str:
        integration_type: str = self.cleaned_data["integration_type"]
        if integration_type in DELETING_INTEGRATION_TYPES and self.entity_type is not None:
            refusal = self.access_refusal(self.entity_type, integration_type)
            if refusal is not None:
                raise ValidationError(refusal)
        return integration_type

    def _clean_sync_delete_limit(self, cleaned: dict[str, Any]) -> None:
        """Asked for Sync only (the page hides it otherwise): then it is required; for other
        Integration Types the value shown (the saved one, or the default) is kept."""
        if cleaned.get("sync_delete_limit_percent") is not None or self.has_error(
            "sync_delete_limit_percent"
        ):
            return
        if cleaned.get("integration_type") in DELETING_INTEGRATION_TYPES:
            self.add_error(
                "sync_delete_limit_percent",
                "Enter the deletion limit: a percentage from 0 to 100 (100: no limit).",
            )
            return
        kept = self.initial.get("sync_delete_limit_percent")
        cleaned["sync_delete_limit_percent"] = (
            DEFAULT_SYNC_DELETE_LIMIT_PERCENT if kept is None else kept
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        self._clean_sync_delete_limit(cleaned)
        self.check_schedule(cleaned)
        if cleaned.get("file_format") == FileFormat.CSV and not cleaned.get("csv_delimiter"):
            self.add_error("csv_delimiter", "Choose the CSV Delimiter.")
        if cleaned.get("file_format") != FileFormat.CSV:
            cleaned["csv_delimiter"] = ","
        return cleaned


class FieldMappingForm(forms.Form):
    """Which file column each entity field is read from, a field per entity field in the
    entity's order. Typed column names, or, once the page has a sample, a select of its
    columns (offer_columns); either way any column name is taken, each column feeds one field
    at most, and required fields and the unique identifier must be mapped."""

    def __init__(self, *args: Any, entity_type: EntityType | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entity_type = entity_type
        self.entity_fields = list(entity_type.fields.all()) if entity_type else []
        self.columns: list[str] | None = None  # the sample's, once offered
        for field in self.entity_fields:
            self.fields[MAPPING_PREFIX + field.name] = forms.CharField(
                label=field.display_label,
                required=field.required or field.is_unique_identifier,
                max_length=255,
                help_text=self._mapping_help(field),
                error_messages={"required": "Map this field to a column: it is required."},
            )

    @staticmethod
    def _mapping_help(field: Any) -> str:
        parts = [f"File column for {field.name} ({field.get_field_type_display()})"]
        if field.is_unique_identifier:
            parts.append("unique identifier, required")
        elif field.required:
            parts.append("required")
        else:
            parts.append("may be left unmapped")
        return "; ".join(parts) + "."

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(MAPPING_PREFIX)]

    def chosen(self) -> dict[str, str]:
        """{field name: column} as the page shows it (posted, or else initial)."""
        chosen = {}
        for bound in self.mapping_fields():
            value = bound.value()
            if isinstance(value, str) and value.strip():
                chosen[bound.name[len(MAPPING_PREFIX) :]] = value.strip()
        return chosen

    def offer_columns(self, columns: list[str]) -> None:
        """Show each field as a select of these columns (and "not mapped"); a column the
        field holds that the sample lacks stays selected, marked so."""
        self.columns = list(columns)
        for bound in self.mapping_fields():
            value = bound.value()
            current = value.strip() if isinstance(value, str) else ""
            choices = [("", "— not mapped —"), *((column, column) for column in columns)]
            if current and current not in columns:
                choices.append((current, f"{current} (not in the sample)"))
            widget = forms.Select(choices=choices)
            widget.is_required = bound.field.required
            bound.field.widget = widget

    def unmapped_columns(self) -> list[str]:
        """The offered columns no field is read from, in the file's order."""
        used = set(self.chosen().values())
        return [column for column in self.columns or [] if column not in used]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        mapping = {
            name[len(MAPPING_PREFIX) :]: value.strip()
            for name, value in cleaned.items()
            if name.startswith(MAPPING_PREFIX) and value and value.strip()
        }
        counts = Counter(mapping.values())
        duplicates = sorted(column for column, count in counts.items() if count > 1)
        if duplicates:
            raise ValidationError(
                "Each file column can feed one field only; repeated: " + ", ".join(duplicates)
            )
        cleaned["field_mapping"] = mapping
        return cleaned


class SourceSelectionForm(forms.Form):
    entity_source = forms.ChoiceField(
        label="Entity Source", choices=source_choices, initial=DEFAULT_SOURCE
    )
    name = forms.CharField(label="Connector Name", max_length=100)
    description = forms.CharField(
        label="Description", required=False, max_length=2000, widget=forms.Textarea({"rows": 3})
    )

    def __init__(
        self, *args: Any, owner: Any = None, connector: Connector | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.connector = connector

    def clean_name(self) -> str:
        name = _text(self, "name")
        if not name:
            raise ValidationError("Enter a Connector Name.")
        taken = Connector.objects.filter(owner=self.owner, name__iexact=name)
        if self.connector is not None:
            taken = taken.exclude(pk=self.connector.pk)
        if taken.exists():
            raise ValidationError(f"You already have a connector named {name!r}.")
        return name


class ReviewForm(forms.Form):
    """The last screen shows everything entered; submitting it saves the connector."""
