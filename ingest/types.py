"""The contracts between the ingest pipeline's parts: parsing, writing and the orchestrator."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from entities.validation import FieldSpec

# A time as the database takes it as a parameter: a datetime on PostgreSQL, text on SQLite.
DbTime = datetime | str


class FileFailed(Exception):
    """The whole file cannot be ingested; str() is the reason shown to the user. The parsers
    raise it; the writer returns it as FileOutcome.failure."""


@dataclass(frozen=True)
class ParsedRow:
    """One record read from a file. `line` is the 1-based line number where the row starts
    (CSV/TSV/NDJSON) or the 1-based position of the object (JSON array)."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one row (with one of its values, if `column` is set): a row error,
    kept in the ledger as an ingest.models.RowError."""

    line: int
    column: str
    reason: str


@dataclass(frozen=True)
class Tolerance:
    """How many bad rows a file may have and still be written (good rows only)."""

    max_rows: int = 0
    max_percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Tolerance":
        text = (text or "0").strip()
        if text.endswith("%"):
            return cls(max_rows=0, max_percent=float(text[:-1]))
        return cls(max_rows=int(text))

    def allows(self, bad: int, total: int) -> bool:
        if bad == 0:
            return True
        if self.max_percent is not None:
            return total > 0 and bad * 100 <= self.max_percent * total
        return bad <= self.max_rows


@dataclass(frozen=True)
class IngestConfig:
    """Everything the writer needs, as plain values (no ORM objects)."""

    entity_type_id: int
    integration_type: str  # connectors.models.IntegrationType value
    fields: tuple[FieldSpec, ...]
    mapping: dict[str, str]  # entity field name -> file column
    tolerance: Tolerance
    file_token: int  # the ledger entry id; written to Record.last_file_id
    # The connector writing, written to Record.connector_id: Sync removes only its records.
    connector_id: int | None
    # Sync fails a file that would remove more than this share of the connector's records.
    delete_limit_percent: int = 100
    # Set when the caller's transaction holds the entity type locked already (ingest.writing.
    # lock_entity_type, for several files in one transaction): the time that returned.
    entity_locked_at: DbTime | None = None


@dataclass
class FileOutcome:
    """What writing a file did (ingest.writing.write_file returns it; it never raises for a
    file that fails). `failure` is why the file failed as a whole (None: it succeeded); then
    `wrote_records` says records were sent to the database before it failed, so the caller
    must roll its savepoint (or transaction) back. The counts are those of the rows read."""

    rows_total: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0  # rows ignored by the Integration Type (Insert: existing; Update: missing)
    failed_rows: int = 0
    errors: list[RowProblem] = field(default_factory=list)  # the first MAX_ERRORS_KEPT only
    failure: str | None = None
    wrote_records: bool = False

    MAX_ERRORS_KEPT = 1000
