"""Write a file's rows into entity records, in bulk, by the connector's Integration Type.

Runs inside the caller's transaction: when the file fails (FileFailed, or TooManyBadRows with
the row errors attached) the caller rolls back everything written here.

What a record holds: Record.external_id is the unique identifier field's value as text, and
Record.data maps entity field names (the unique identifier included) to their typed values,
null for an empty value. Fields the connector does not map are never touched.
- Insert creates records only; rows whose identifier exists are skipped.
- Update changes existing records only; rows whose identifier is new are skipped.
- Upsert and Sync set every mapped field (a mapped column the file lacks sets the field to null).
- Patch sets only the fields whose columns the row has, keeping the others.
- Sync then deletes the entity's records that the file did not name.

Every record written gets last_file_id = the file's token. That marks what this file has
written, so a unique identifier repeated anywhere in the file is found without keeping the
file's identifiers in memory, and Sync deletes what does not carry the mark.

Each batch costs a few queries: one to look its identifiers up, one to write, and for Sync one
to mark the records of rows that failed validation as seen, so they are not deleted.
"""

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from connectors.models import IntegrationType
from entities.models import Record
from entities.validation import FieldSpec, InvalidValue
from ingest.parsers import BadRow
from ingest.types import FileFailed, FileOutcome, IngestConfig, ParsedRow, RowError

MAX_EXTERNAL_ID = Record._meta.get_field("external_id").max_length or 255
SQLITE_ROWS_PER_STATEMENT = 5000  # keeps a statement under SQLite's 32,766 parameters


class TooManyBadRows(FileFailed):
    """More invalid rows than the connector tolerates; `outcome` holds the row errors."""

    def __init__(self, message: str, outcome: FileOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


def write_file(
    rows: Iterable[ParsedRow | BadRow], config: IngestConfig, *, batch_size: int = 2000
) -> FileOutcome:
    """Write the rows; return the counts and row errors, or raise FileFailed."""
    writer = _FileWriter(config, batch_size)
    try:
        for row in rows:
            writer.add(row)
            if writer.has_seen_enough:
                writer.stopped_early = True
                break
    except FileFailed as exc:
        if not hasattr(exc, "outcome"):
            exc.outcome = writer.outcome  # type: ignore[attr-defined]
        raise
    return writer.finish()


# --- the mapping ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mapped:
    """An entity field and the file column it is read from."""

    field: str
    column: str
    spec: FieldSpec


@dataclass(frozen=True)
class _Plan:
    identifier: _Mapped
    mapped: tuple[_Mapped, ...]  # the identifier included
    integration_type: str
    is_patch: bool
    is_sync: bool


def _plan(config: IngestConfig) -> _Plan:
    if config.integration_type not in IntegrationType.values:
        raise FileFailed(f"unknown Integration Type {config.integration_type!r}")
    specs = {spec.name: spec for spec in config.fields}
    mapped = tuple(
        _Mapped(name, column, specs[name])
        for name, column in config.mapping.items()
        if name in specs and column
    )
    identifier = next((m for m in mapped if m.spec.is_unique_identifier), None)
    if identifier is None:
        unique = next((s.name for s in config.fields if s.is_unique_identifier), None)
        if unique is None:
            raise FileFailed("the entity has no unique identifier field")
        raise FileFailed(f"the unique identifier field {unique!r} is not mapped to a column")
    integration_type = config.integration_type
    return _Plan(
        identifier,
        mapped,
        integration_type,
        is_patch=integration_type == IntegrationType.PATCH,
        is_sync=integration_type == IntegrationType.SYNC,
    )


# --- one row --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Candidate:
    """A row with a usable unique identifier. `data` is None when the row failed validation:
    Sync still marks its record as seen so that it is not deleted."""

    line: int
    external_id: str
    data: dict[str, Any] | None
    missing_required: tuple[str, ...] = ()  # Patch: what a new record would lack


def _check_columns(row: ParsedRow, plan: _Plan) -> None:
    """A required field's column missing from the file fails it (checked on the first row)."""
    needed = (plan.identifier,) if plan.is_patch else plan.mapped
    for mapped in needed:
        if mapped.spec.required and mapped.column not in row.values:
            raise FileFailed(
                f"the file has no column {mapped.column!r}, which is mapped to the required "
                f"field {mapped.field!r}"
            )


def _clean_row(row: ParsedRow, plan: _Plan) -> tuple[dict[str, Any], list[RowError], list[str]]:
    """(typed values by field, errors, required fields whose column the row lacks)."""
    data: dict[str, Any] = {}
    errors: list[RowError] = []
    absent: list[str] = []
    values = row.values
    for mapped in plan.mapped:
        if mapped.column in values:
            try:
                data[mapped.field] = _clean(mapped, values[mapped.column])
            except InvalidValue as exc:
                errors.append(RowError(row.line, mapped.column, _reason(mapped, str(exc))))
        elif mapped.spec.required:
            absent.append(mapped.field)
            if not plan.is_patch:  # a JSON object without the key; Patch needs it only to create
                reason = _reason(mapped, "is required but missing")
                errors.append(RowError(row.line, mapped.column, reason))
        elif not plan.is_patch:
            data[mapped.field] = None
    return data, errors, absent


def _clean(mapped: _Mapped, raw: Any) -> Any:
    value = mapped.spec.cleaner(raw)  # entities.validation.clean_value, without a call
    if value.__class__ is str and ("\x00" in value or not value.isascii()):
        _check_storable(value)
    return value


def _check_storable(text: str) -> None:
    # PostgreSQL's text and jsonb reject NUL and unpaired surrogates (from JSON "\ud800").
    if "\x00" in text:
        raise InvalidValue("contains a NUL character, which cannot be stored")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValue("contains an invalid Unicode character") from None


def _reason(mapped: _Mapped, message: str) -> str:
    return message if mapped.column == mapped.field else f"{message} (field {mapped.field})"


def _external_id(mapped: _Mapped, value: Any, line: int) -> tuple[str | None, RowError | None]:
    if value is None:
        return None, RowError(line, mapped.column, "is required but empty")
    text = str(value)
    if len(text) > MAX_EXTERNAL_ID:
        reason = f"is {len(text)} characters long; a unique identifier may have at most "
        return None, RowError(line, mapped.column, f"{reason}{MAX_EXTERNAL_ID}")
    return text, None


def _identifier_of(values: dict[str, Any], plan: _Plan) -> str | None:
    """The row's valid unique identifier, if it has one, whatever else is wrong with it."""
    try:
        value = _clean(plan.identifier, values.get(plan.identifier.column))
    except InvalidValue:
        return None
    external_id, _ = _external_id(plan.identifier, value, 0)
    return external_id


# --- the file -------------------------------------------------------------------------------


class _FileWriter:
    def __init__(self, config: IngestConfig, batch_size: int) -> None:
        self.config = config
        self.plan = _plan(config)
        self.sql = _sql_for(config, timezone.now())
        self.batch_size = max(1, batch_size)
        self.outcome = FileOutcome()
        self.batch: list[_Candidate] = []
        self.columns_checked = False
        self.stopped_early = False

    # adding rows

    def add(self, row: ParsedRow | BadRow) -> None:
        self.outcome.rows_total += 1
        if isinstance(row, BadRow):
            external_id = _identifier_of(row.values, self.plan) if self.plan.is_sync else None
            self._fail([RowError(row.line, "", row.reason)], row.line, external_id)
        else:
            self._add_parsed(row)
        if len(self.batch) >= self.batch_size:
            self._flush()

    def _add_parsed(self, row: ParsedRow) -> None:
        if not self.columns_checked:
            _check_columns(row, self.plan)
            self.columns_checked = True
        data, errors, absent = _clean_row(row, self.plan)
        identifier = self.plan.identifier
        external_id, id_error = None, None
        if identifier.field in data:
            external_id, id_error = _external_id(identifier, data[identifier.field], row.line)
        if id_error:
            errors.append(id_error)
        if errors or external_id is None:
            self._fail(errors, row.line, external_id)
        else:
            missing = tuple(absent) if self.plan.is_patch else ()
            self.batch.append(_Candidate(row.line, external_id, data, missing))

    def _fail(self, errors: list[RowError], line: int, external_id: str | None) -> None:
        self.count_failure(errors)
        if self.plan.is_sync and external_id is not None and not self.is_doomed:
            self.batch.append(_Candidate(line, external_id, None))

    def count_failure(self, errors: list[RowError]) -> None:
        self.outcome.failed_rows += 1
        room = FileOutcome.MAX_ERRORS_KEPT - len(self.outcome.errors)
        self.outcome.errors.extend(errors[: max(room, 0)])

    # tolerance

    @property
    def is_doomed(self) -> bool:
        """The file fails whatever follows: more bad rows than a count tolerance allows."""
        tolerance = self.config.tolerance
        return tolerance.max_percent is None and self.outcome.failed_rows > tolerance.max_rows

    @property
    def has_seen_enough(self) -> bool:
        """Doomed, with as many errors as the report keeps: reading on would only count."""
        return self.is_doomed and len(self.outcome.errors) >= FileOutcome.MAX_ERRORS_KEPT

    # writing

    def _flush(self) -> None:
        batch, self.batch = self.batch, []
        if batch and not self.is_doomed:
            _BatchWriter(self, batch).write()

    def finish(self) -> FileOutcome:
        self._flush()
        outcome = self.outcome
        if not self.config.tolerance.allows(outcome.failed_rows, outcome.rows_total):
            raise TooManyBadRows(self._too_many_message(), outcome)
        if self.plan.is_sync and outcome.failed_rows < outcome.rows_total:
            outcome.deleted = self.sql.delete_unseen()
        return outcome

    def _too_many_message(self) -> str:
        failed, total = self.outcome.failed_rows, self.outcome.rows_total
        verb = "is" if failed == 1 else "are"
        counted = (
            f"at least {failed:,} of the first {total:,} rows {verb} invalid"
            if self.stopped_early
            else f"{failed:,} of {total:,} rows {verb} invalid"
        )
        return f"{counted}; the connector allows {_allowance(self.config)}"


def _allowance(config: IngestConfig) -> str:
    tolerance = config.tolerance
    if tolerance.max_percent is not None:
        return f"{tolerance.max_percent:g}%"
    return f"{tolerance.max_rows:,}" if tolerance.max_rows else "none"


# --- one batch ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Existing:
    last_file_id: int | None
    data: dict[str, Any] | None  # only where the merge happens in Python (SQLite)


@dataclass(slots=True)
class _Write:
    external_id: str
    data: dict[str, Any]
    is_new: bool


@dataclass
class _BatchWriter:
    """Decides what each candidate of a batch becomes, then writes them in one statement."""

    file: _FileWriter
    batch: list[_Candidate]
    claimed: dict[str, int] = field(default_factory=dict)  # external_id -> first line
    writes: list[_Write] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    existing: dict[str, _Existing] = field(default_factory=dict)

    def write(self) -> None:
        sql = self.file.sql
        ids = {candidate.external_id for candidate in self.batch}
        merges = self.file.plan.integration_type != IntegrationType.INSERT
        self.existing = sql.existing(ids, with_data=merges and sql.merges_in_python)
        for candidate in self.batch:
            self._decide(candidate)
        self._execute()

    def _decide(self, candidate: _Candidate) -> None:
        found = self.existing.get(candidate.external_id)
        if self._is_repeat(candidate, found):
            return
        if candidate.data is None:
            if found is not None:  # Sync: a bad row keeps its record from deletion
                self.seen.append(candidate.external_id)
                self.claimed[candidate.external_id] = candidate.line
            return
        if self._skipped(found):
            self.file.outcome.skipped += 1
            return
        if found is None and candidate.missing_required:
            self._reject(candidate, self._new_record_lacks(candidate))
            return
        self.claimed[candidate.external_id] = candidate.line
        self.writes.append(self._write_for(candidate, found))

    def _is_repeat(self, candidate: _Candidate, found: _Existing | None) -> bool:
        first_line = self.claimed.get(candidate.external_id)
        earlier = found is not None and found.last_file_id == self.file.config.file_token
        if first_line is None and not earlier:
            return False
        if candidate.data is not None:  # a failed row is already counted
            where = (
                f"first on line {first_line}" if first_line else "it appears earlier in the file"
            )
            message = f"duplicate unique identifier {candidate.external_id!r} ({where})"
            self._reject(candidate, message)
        return True

    def _skipped(self, found: _Existing | None) -> bool:
        integration_type = self.file.plan.integration_type
        if integration_type == IntegrationType.INSERT:
            return found is not None
        if integration_type == IntegrationType.UPDATE:
            return found is None
        return False

    def _new_record_lacks(self, candidate: _Candidate) -> str:
        fields = ", ".join(candidate.missing_required)
        return (
            f"a new record needs the required field(s) {fields}, which the file has no column for"
        )

    def _reject(self, candidate: _Candidate, reason: str) -> None:
        column = self.file.plan.identifier.column
        self.file.count_failure([RowError(candidate.line, column, reason)])

    def _write_for(self, candidate: _Candidate, found: _Existing | None) -> _Write:
        data = candidate.data or {}
        if found is not None and found.data is not None:
            data = {**found.data, **data}
        return _Write(candidate.external_id, data, found is None)

    def _execute(self) -> None:
        if self.file.is_doomed:
            return  # the file fails anyway; the caller rolls back what was written
        sql, outcome = self.file.sql, self.file.outcome
        integration_type = self.file.plan.integration_type
        if self.writes and integration_type == IntegrationType.INSERT:
            created = sql.insert(self.writes)
            outcome.created += created
            outcome.skipped += len(self.writes) - created  # inserted meanwhile by another file
        elif self.writes and integration_type == IntegrationType.UPDATE:
            updated = sql.update(self.writes)
            outcome.updated += updated
            outcome.skipped += len(self.writes) - updated  # deleted meanwhile
        elif self.writes:
            created, updated = sql.upsert(self.writes)
            outcome.created += created
            outcome.updated += updated
        if self.seen:
            sql.mark_seen(self.seen)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# --- SQL ------------------------------------------------------------------------------------


class _Sql(ABC):
    """The writer's statements; subclasses hold each database vendor's dialect."""

    merges_in_python = False

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        self.entity_type_id = config.entity_type_id
        self.token = config.file_token
        self.now = connection.ops.adapt_datetimefield_value(now)
        quote = connection.ops.quote_name
        columns = ("entity_type", "external_id", "data", "last_file_id", "created_at", "updated_at")
        self.names = {name: quote(Record._meta.get_field(name).column) for name in columns}
        self.names["table"] = quote(Record._meta.db_table)

    def _run(
        self, template: str, params: list[Any], **parts: str
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """Execute `template` with the table's quoted names and `parts` filled in; return the
        row count and the rows returned. Every value travels as a parameter."""
        with connection.cursor() as cursor:
            cursor.execute(template.format(**self.names, **parts), params)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.rowcount, rows

    @abstractmethod
    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, _Existing]:
        """The records among `ids`; their data only if `with_data`."""

    @abstractmethod
    def insert(self, writes: list[_Write]) -> int:
        """Insert new records, leaving existing ones alone; the number inserted."""

    @abstractmethod
    def upsert(self, writes: list[_Write]) -> tuple[int, int]:
        """Insert or merge into records this file has not written yet; (created, updated)."""

    @abstractmethod
    def update(self, writes: list[_Write]) -> int:
        """Merge into existing records this file has not written yet; the number updated."""

    @abstractmethod
    def mark_seen(self, ids: list[str]) -> None:
        """Give these records the file's token without changing them (Sync keeps them)."""

    @abstractmethod
    def delete_unseen(self) -> int:
        """Delete the entity's records without the file's token; the number deleted."""


def _sql_for(config: IngestConfig, now: datetime) -> _Sql:
    if connection.vendor == "postgresql":
        return _PostgresSql(config, now)
    if connection.vendor == "sqlite":
        return _SqliteSql(config, now)
    raise NotImplementedError(f"the ingest writer does not support {connection.vendor}")


class _PostgresSql(_Sql):
    """A batch travels as one JSON document read by jsonb_to_recordset(): one parameter,
    serialised in C (text arrays are quoted element by element in Python by psycopg's client
    side binding, which Django uses). jsonb's || merges the row's values into the record's
    data."""

    _INSERT = (
        "INSERT INTO {table} AS r ({entity_type}, {external_id}, {data}, {last_file_id}, "
        "{created_at}, {updated_at}) "
        "SELECT %s, u.external_id, u.data, %s, %s, %s "
        "FROM jsonb_to_recordset(%s::jsonb) AS u(external_id text, data jsonb) "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )

    def _run(
        self, template: str, params: list[Any], **parts: str
    ) -> tuple[int, list[tuple[Any, ...]]]:
        ids_from_json = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"
        return super()._run(template, params, ids_from_json=ids_from_json, **parts)

    def _insert_params(self, writes: list[_Write]) -> list[Any]:
        return [self.entity_type_id, self.token, self.now, self.now, _batch_json(writes)]

    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, _Existing]:
        _, rows = self._run(
            "SELECT {external_id}, {last_file_id} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.entity_type_id, _dumps(list(ids))],
        )
        return {external_id: _Existing(last_file_id, None) for external_id, last_file_id in rows}

    def insert(self, writes: list[_Write]) -> int:
        count, _ = self._run(self._INSERT + "DO NOTHING", self._insert_params(writes))
        return count

    def upsert(self, writes: list[_Write]) -> tuple[int, int]:
        _, rows = self._run(
            self._INSERT + "DO UPDATE SET {data} = r.{data} || EXCLUDED.{data}, "
            "{last_file_id} = EXCLUDED.{last_file_id}, {updated_at} = EXCLUDED.{updated_at} "
            "WHERE r.{last_file_id} IS DISTINCT FROM EXCLUDED.{last_file_id} "
            "RETURNING (r.xmax = 0)",  # xmax is 0 in a row version this statement inserted
            self._insert_params(writes),
        )
        created = sum(1 for (inserted,) in rows if inserted)
        return created, len(rows) - created

    def update(self, writes: list[_Write]) -> int:
        count, _ = self._run(
            "UPDATE {table} AS r SET {data} = r.{data} || u.data, {last_file_id} = %s, "
            "{updated_at} = %s "
            "FROM jsonb_to_recordset(%s::jsonb) AS u(external_id text, data jsonb) "
            "WHERE r.{entity_type} = %s AND r.{external_id} = u.external_id "
            "AND r.{last_file_id} IS DISTINCT FROM %s",
            [self.token, self.now, _batch_json(writes), self.entity_type_id, self.token],
        )
        return count

    def mark_seen(self, ids: list[str]) -> None:
        self._run(
            "UPDATE {table} SET {last_file_id} = %s "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.token, self.entity_type_id, _dumps(ids)],
        )

    def delete_unseen(self) -> int:
        count, _ = self._run(
            "DELETE FROM {table} WHERE {entity_type} = %s AND {last_file_id} IS DISTINCT FROM %s",
            [self.entity_type_id, self.token],
        )
        return count


def _batch_json(writes: list[_Write]) -> str:
    return _dumps([{"external_id": w.external_id, "data": w.data} for w in writes])


class _SqliteSql(_Sql):
    """SQLite's json_patch() drops null values, so data is merged in Python; SQLite runs one
    writer at a time, so the data looked up cannot change before it is written back."""

    merges_in_python = True
    _INSERT = (
        "INSERT INTO {table} ({entity_type}, {external_id}, {data}, {last_file_id}, "
        "{created_at}, {updated_at}) "
        "SELECT %s, column1, column2, %s, %s, %s FROM (VALUES {rows}) WHERE true "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )
    _UPSERT = _INSERT + (
        "DO UPDATE SET {data} = excluded.{data}, {last_file_id} = excluded.{last_file_id}, "
        "{updated_at} = excluded.{updated_at} "
        "WHERE {table}.{last_file_id} IS NOT excluded.{last_file_id}"
    )
    _UPDATE = (
        "UPDATE {table} SET {data} = v.column2, {last_file_id} = %s, {updated_at} = %s "
        "FROM (VALUES {rows}) AS v "
        "WHERE {table}.{entity_type} = %s AND {table}.{external_id} = v.column1 "
        "AND {table}.{last_file_id} IS NOT %s"
    )

    def _with_values(
        self, template: str, writes: list[_Write], before: list[Any], after: list[Any]
    ) -> int:
        """Run `template` once per part of `writes`, its {rows} a VALUES list; total count."""
        total = 0
        for part in _parts(writes):
            rows = ", ".join(["(%s, %s)"] * len(part))
            values = [value for w in part for value in (w.external_id, _dumps(w.data))]
            count, _ = self._run(template, [*before, *values, *after], rows=rows)
            total += count
        return total

    def _with_ids(
        self, template: str, ids: list[str], before: list[Any], **parts: str
    ) -> list[tuple[Any, ...]]:
        """Run `template` once per part of `ids`, its {ids} a list of parameters; all rows."""
        found: list[tuple[Any, ...]] = []
        for part in _parts(ids):
            marks = ", ".join(["%s"] * len(part))
            found += self._run(template, [*before, *part], ids=marks, **parts)[1]
        return found

    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, _Existing]:
        rows = self._with_ids(
            "SELECT {external_id}, {last_file_id}, {wanted_data} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} IN ({ids})",
            sorted(ids),
            [self.entity_type_id],
            wanted_data=self.names["data"] if with_data else "NULL",
        )
        return {
            external_id: _Existing(last_file_id, json.loads(data) if with_data else None)
            for external_id, last_file_id, data in rows
        }

    def insert(self, writes: list[_Write]) -> int:
        head = [self.entity_type_id, self.token, self.now, self.now]
        return self._with_values(self._INSERT + "DO NOTHING", writes, head, [])

    def upsert(self, writes: list[_Write]) -> tuple[int, int]:
        head = [self.entity_type_id, self.token, self.now, self.now]
        written = self._with_values(self._UPSERT, writes, head, [])
        created = sum(1 for w in writes if w.is_new)
        return created, written - created

    def update(self, writes: list[_Write]) -> int:
        return self._with_values(
            self._UPDATE, writes, [self.token, self.now], [self.entity_type_id, self.token]
        )

    def mark_seen(self, ids: list[str]) -> None:
        self._with_ids(
            "UPDATE {table} SET {last_file_id} = %s "
            "WHERE {entity_type} = %s AND {external_id} IN ({ids})",
            ids,
            [self.token, self.entity_type_id],
        )

    def delete_unseen(self) -> int:
        count, _ = self._run(
            "DELETE FROM {table} WHERE {entity_type} = %s AND {last_file_id} IS NOT %s",
            [self.entity_type_id, self.token],
        )
        return count


def _parts(items: list[Any]) -> list[list[Any]]:
    step = SQLITE_ROWS_PER_STATEMENT
    return [items[start : start + step] for start in range(0, len(items), step)]
