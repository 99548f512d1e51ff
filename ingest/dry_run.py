"""Check sample: what a run would make of a sample's rows with settings not saved yet (the
entity, the mapping, the Integration Type, the bad rows allowed, Sync's deletion limit),
reading the database and writing nothing.

The rows go through the writer itself (ingest.writing.write_file: the same cleaning, the same
duplicates, tolerance and deletion limit, the same messages) with statements that only read
(ingest.writing.dry), so what it reports is what a run of those rows would report.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from connectors.models import DELETING_INTEGRATION_TYPES
from entities.models import EntityType
from entities.validation import FieldSpec
from ingest.parsers import BadRow
from ingest.types import IngestConfig, ParsedRow, RowProblem, Tolerance
from ingest.writing import write_file
from ingest.writing.dry import DryStatements

DRY_TOKEN = 0  # the file token of a check: no ledger entry has id 0


@dataclass(frozen=True)
class DryRun:
    """What writing the rows would do: records created, updated, skipped (by Insert or
    Update) and, for Sync, removed; the rows that would fail and why (the first 1,000
    problems); and why the file would fail as a whole, if it would."""

    integration_type: str
    rows: int
    created: int
    updated: int
    skipped: int
    removed: int
    failed_rows: int
    problems: list[RowProblem] = field(default_factory=list)
    failure: str | None = None

    @property
    def removes(self) -> bool:
        """Whether the Integration Type removes records (Sync)."""
        return self.integration_type in DELETING_INTEGRATION_TYPES

    def summary(self) -> dict[str, Any]:
        """The counts and the failure, as plain values (what the wizard keeps for Review)."""
        return {
            "integration_type": self.integration_type,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed_rows": self.failed_rows,
            "failure": self.failure,
        }


def check_rows(
    rows: Iterable[ParsedRow | BadRow],
    *,
    entity_type: EntityType,
    integration_type: str,
    mapping: Mapping[str, str],
    error_tolerance: str,
    delete_limit_percent: int,
    connector_id: int | None,
) -> DryRun:
    """What a run of `rows` would do with these settings; `connector_id`: the connector being
    edited (Sync would remove its records the rows do not name), None for a new one."""
    config = IngestConfig(
        entity_type_id=entity_type.pk,
        integration_type=integration_type,
        fields=tuple(FieldSpec.from_field(f) for f in entity_type.fields.all()),
        mapping=dict(mapping),
        tolerance=Tolerance.parse(error_tolerance),
        file_token=DRY_TOKEN,
        connector_id=connector_id,
        delete_limit_percent=delete_limit_percent,
    )
    outcome = write_file(rows, config, statements=DryStatements(config, timezone.now()))
    return DryRun(
        integration_type=integration_type,
        rows=outcome.rows_total,
        created=outcome.created,
        updated=outcome.updated,
        skipped=outcome.skipped,
        removed=outcome.deleted,
        failed_rows=outcome.failed_rows,
        problems=list(outcome.errors),
        failure=outcome.failure,
    )
