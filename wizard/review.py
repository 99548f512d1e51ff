"""What the wizard's Review step lists: every setting of the earlier steps, by section, the
source's settings as its Source summarises them (secrets masked), the field mapping by field
label in the entity's order, what the last Check sample found, and whom the connector is
shared with."""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone

from connectors.mapping import mapping_rows
from connectors.models import (
    DELETING_INTEGRATION_TYPES,
    AccessLevel,
    FileFormat,
    IntegrationType,
    ScheduleKind,
    sync_limit_text,
)
from connectors.schedules import describe
from connectors.sources.base import Source, SummaryRows
from entities.models import EntityType
from wizard.steps import (
    ENTITY,
    ENTITY_SETTINGS,
    FIELD_MAPPING,
    SHARE,
    SOURCE,
    SOURCE_SETTINGS,
    STEP_TITLES,
)


def review_sections(
    *,
    entity_type: EntityType | None,
    entity_settings: Mapping[str, Any],
    source: Source,
    source_step: Mapping[str, Any],
    source_settings: Mapping[str, Any],
    external_id: str,
    mapping: Mapping[str, str],
    check: Mapping[str, Any] | None,
    owner: User,
    shares: Mapping[Group, int],
    shares_kept: bool = False,
) -> list[dict[str, Any]]:
    """The Review step's sections: a title, the step its Back link goes to, its rows, (Field
    Mapping's) the mapping, and a note. `check`: the last Check sample's summary (None: not
    run). `shares_kept`: the user may not change the shares, which are kept as they are."""
    return [
        {
            "title": STEP_TITLES[ENTITY] + " and " + STEP_TITLES[ENTITY_SETTINGS],
            "step": ENTITY_SETTINGS,
            "rows": _entity_rows(entity_type, entity_settings),
        },
        {
            "title": STEP_TITLES[SOURCE],
            "step": SOURCE,
            "rows": [
                ("Entity Source", source.label),
                ("Connector Name", source_step.get("name", "")),
                ("Description", source_step.get("description", "")),
            ],
        },
        {
            "title": STEP_TITLES[SOURCE_SETTINGS],
            "step": SOURCE_SETTINGS,
            "rows": source.summary(source_settings, external_id=external_id),
        },
        {
            "title": STEP_TITLES[FIELD_MAPPING],
            "step": FIELD_MAPPING,
            "rows": check_rows(check),
            "mapping": mapping_rows(entity_type, mapping),
            "id": "review-field-mapping",
        },
        {
            "title": STEP_TITLES[SHARE],
            "step": SHARE,
            "rows": share_rows(owner, shares),
            "note": "Kept as they are: only the owner and users with full access change them."
            if shares_kept
            else "",
        },
    ]


def check_rows(check: Mapping[str, Any] | None) -> SummaryRows:
    """The last Check sample's summary: what a run of the sample's rows would do."""
    if check is None:
        return [
            (
                "Check sample",
                "not run (Field Mapping's Check sample shows what a run of the sample would do)",
            )
        ]
    sample = check.get("sample", "")
    if check.get("cut_short"):
        sample += " (its first part)"
    rows = [
        ("Sample checked", sample),
        ("Rows checked", f"{check.get('rows', 0):,}"),
        ("Would create", f"{check.get('created', 0):,}"),
        ("Would update", f"{check.get('updated', 0):,}"),
        ("Would skip", f"{check.get('skipped', 0):,}"),
    ]
    if check.get("integration_type") in DELETING_INTEGRATION_TYPES:
        rows.append(("Would remove", f"{check.get('removed', 0):,} (against the sample only)"))
    rows.append(("Rows that would fail", f"{check.get('failed_rows', 0):,}"))
    if check.get("failure"):
        rows.append(("The file would fail", f"{check['failure']}; nothing would be written"))
    if check.get("stale"):
        rows.append(("Note", "The mapping or the settings changed since this check: check again."))
    return rows


def share_rows(owner: User, shares: Mapping[Group, int]) -> SummaryRows:
    """Who has which access: the owner (always full), then each group, by name."""
    rows = [(f"{owner.get_username()} (owner)", AccessLevel.FULL.label)]
    for group, access in sorted(shares.items(), key=lambda item: item[0].name):
        rows.append((f"Group {group.name}", AccessLevel(access).label))
    if not shares:
        rows.append(("Groups", "not shared with any group"))
    return rows


def _entity_rows(entity_type: EntityType | None, settings: Mapping[str, Any]) -> SummaryRows:
    formats = dict(FileFormat.choices)
    integration = dict(IntegrationType.choices)
    schedule = describe(
        active=bool(settings.get("schedule_active")),
        kind=settings.get("schedule_kind") or ScheduleKind.INTERVAL,
        every_minutes=settings.get("poll_interval_minutes") or 0,
        expression=settings.get("cron_expression") or "",
        timezone=settings.get("schedule_timezone") or "",
        now=timezone.now(),
    )
    rows = [
        (
            "Entity",
            f"{entity_type.name} ({entity_type.get_category_display()})" if entity_type else "",
        ),
        ("Integration Type", integration.get(settings.get("integration_type", ""), "")),
        ("File format", formats.get(settings.get("file_format", ""), "")),
    ]
    if settings.get("file_format") == FileFormat.CSV:
        rows.append(("CSV Delimiter", settings.get("csv_delimiter", "")))
    rows += [
        ("Source File Prefix / pattern", settings.get("file_pattern") or "(every file)"),
        ("Bad rows allowed per file", settings.get("error_tolerance", "0")),
    ]
    if settings.get("integration_type") in DELETING_INTEGRATION_TYPES:
        rows.append(
            ("Sync deletion limit", sync_limit_text(settings.get("sync_delete_limit_percent")))
        )
    rows.append(("Schedule", schedule))
    return rows
