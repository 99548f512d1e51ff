"""The exact path of one row: its values cleaned one by one, and each problem said in words.

Rows the generated cleaners (ingest.writing.compiled) step aside for come here; what this
path makes of a valid row is what they must make of it (tests/ingest/writing/test_compiled.py).
"""

from dataclasses import dataclass
from typing import Any

from entities.fieldtypes import InvalidValue
from ingest.types import ParsedRow, RowProblem
from ingest.writing.plan import MAX_EXTERNAL_ID, Mapped, Plan

# A record's data: typed values by field name, or (on PostgreSQL, which merges records
# itself) the same already encoded as JSON text by a generated block cleaner.
Data = dict[str, Any] | str


@dataclass(slots=True)
class Candidate:
    """A row with a usable unique identifier. `data` is None when the row failed validation:
    Sync still marks its record as seen so that it is not deleted."""

    line: int
    external_id: str
    data: Data | None
    missing_required: tuple[str, ...] = ()  # Patch: what a new record would lack


@dataclass(frozen=True)
class CleanRow:
    """What the exact path made of a row."""

    data: dict[str, Any]  # typed values by field name
    problems: list[RowProblem]
    absent: list[str]  # required fields whose column the row lacks


def clean_row(row: ParsedRow, plan: Plan) -> CleanRow:
    data: dict[str, Any] = {}
    problems: list[RowProblem] = []
    absent: list[str] = []
    values = row.values
    for mapped in plan.mapped:
        if mapped.column in values:
            try:
                data[mapped.field] = mapped.spec.cleaner(values[mapped.column])
            except InvalidValue as exc:
                problems.append(RowProblem(row.line, mapped.column, _reason(mapped, str(exc))))
        elif mapped.spec.required:
            absent.append(mapped.field)
            if not plan.is_patch:  # a JSON object without the key; Patch needs it only to create
                reason = _reason(mapped, "is required but missing")
                problems.append(RowProblem(row.line, mapped.column, reason))
        elif not plan.is_patch:
            data[mapped.field] = None
    return CleanRow(data, problems, absent)


def _reason(mapped: Mapped, message: str) -> str:
    return message if mapped.column == mapped.field else f"{message} (field {mapped.field})"


def external_id(mapped: Mapped, value: Any, line: int) -> tuple[str | None, RowProblem | None]:
    """The record's identifier from the identifier field's cleaned value, or the problem."""
    if value is None:
        return None, RowProblem(line, mapped.column, "is required but empty")
    text = str(value)
    if len(text) > MAX_EXTERNAL_ID:
        reason = f"is {len(text)} characters long; a unique identifier may have at most "
        return None, RowProblem(line, mapped.column, f"{reason}{MAX_EXTERNAL_ID}")
    return text, None


def identifier_of(values: dict[str, Any], plan: Plan) -> str | None:
    """The row's valid unique identifier, if it has one, whatever else is wrong with it."""
    try:
        value = plan.identifier.spec.cleaner(values.get(plan.identifier.column))
    except InvalidValue:
        return None
    text, _ = external_id(plan.identifier, value, 0)
    return text
