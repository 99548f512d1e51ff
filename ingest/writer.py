"""Write a file's rows into entity records, in bulk, by the connector's Integration Type.

Runs inside the caller's transaction: when the file fails (FileFailed, or TooManyBadRows with
the row errors attached) the caller rolls back everything written here; the exception's
wrote_records says whether anything was.

What a record holds: Record.external_id is the unique identifier field's value as text, and
Record.data maps entity field names (the unique identifier included) to their typed values,
null for an empty value. Fields the connector does not map are never touched.
- Insert creates records only; rows whose identifier exists are skipped.
- Update changes existing records only; rows whose identifier is new are skipped.
- Upsert and Sync set every mapped field (a mapped column the file lacks sets the field to null).
- Patch sets only the fields whose columns the row has, keeping the others.
- Sync then deletes the records of the entity that its connector wrote last and the file did
  not name; records other connectors wrote are never its to delete. A file that would delete
  more than the connector's deletion limit of them fails (SyncLimitExceeded) instead.

Every record written gets last_file_id = the file's token and connector_id = the connector
writing it. The token marks what this file has written, so a unique identifier repeated
anywhere in the file is found without keeping the file's identifiers in memory, and Sync
deletes what does not carry the mark among the records carrying its connector.

Each file first locks its entity type (records have no database foreign key; see
entities.models.Record), unless its caller's transaction did for several files. Each batch
costs a few queries: one to look its identifiers up, one to write, and for Sync one to mark the
records of rows that failed validation as seen, so they are not deleted. On PostgreSQL a file
of one Upsert or Sync batch is a single upsert.

Where the time goes (see BENCHMARKS.md): plain CSV lines come in PlainBlocks, cleaned a run of
rows at a time by a function generated once per plan and header (_block_cleaner), which on
PostgreSQL also writes each record's JSON text; other rows that are plain and valid are cleaned
by a function generated once per plan (_fast_cleaner); anything else takes the exact path,
which says what is wrong. On PostgreSQL, Upsert and Sync files of more than one batch are
written by a background thread while the next batch is read (_BackgroundWrites), new records by
COPY.
"""

import json
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Container, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from connectors.models import IntegrationType
from entities.models import EntityType, FieldType, Record
from entities.validation import CONVERTERS, EMAIL_RE, PHONE_RE, FieldSpec, InvalidValue
from ingest.parsers import BadRow, PlainBlock
from ingest.types import FileFailed, FileOutcome, IngestConfig, ParsedRow, RowError, Tolerance

MAX_EXTERNAL_ID = Record._meta.get_field("external_id").max_length or 255
SQLITE_ROWS_PER_STATEMENT = 5000  # keeps a statement under SQLite's 32,766 parameters


class SyncLimitExceeded(FileFailed):
    """Sync would delete more of its connector's records than the connector's limit allows."""


class TooManyBadRows(FileFailed):
    """More invalid rows than the connector tolerates; `outcome` holds the row errors."""

    def __init__(self, message: str, outcome: FileOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


# Rows per batch. Large because the background writer thread needs the GIL for a moment at
# each statement of a batch and waits up to the switch interval (5 ms) for it while the caller
# parses: with 2,000 rows a batch those waits took a third of a 1M-row upsert (BENCHMARKS.md).
# A batch of 10,000 rows holds about 15 MB.
BATCH_ROWS = 10_000


def write_file(
    rows: Iterable[ParsedRow | BadRow | PlainBlock],
    config: IngestConfig,
    *,
    batch_size: int = BATCH_ROWS,
) -> FileOutcome:
    """Write the rows (PlainBlocks hold runs of them); return the counts and row errors, or
    raise FileFailed."""
    writer = _FileWriter(config, batch_size)
    try:
        for row in rows:
            if row.__class__ is PlainBlock:
                writer.add_block(row)  # type: ignore[arg-type]
            else:
                writer.add(row)  # type: ignore[arg-type]
            if writer.has_seen_enough:
                writer.stopped_early = True
                break
        return writer.finish()
    except FileFailed as exc:
        if not hasattr(exc, "outcome"):
            exc.outcome = writer.outcome  # type: ignore[attr-defined]
        exc.wrote_records = writer.wrote
        raise
    finally:
        writer.stop()


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


# A record's data: typed values by field name, or (on PostgreSQL, which merges records
# itself) the same already encoded as JSON text by a generated block cleaner.
Data = dict[str, Any] | str


@dataclass(slots=True)
class _Candidate:
    """A row with a usable unique identifier. `data` is None when the row failed validation:
    Sync still marks its record as seen so that it is not deleted."""

    line: int
    external_id: str
    data: Data | None
    missing_required: tuple[str, ...] = ()  # Patch: what a new record would lack


def _check_columns(columns: Container[str], plan: _Plan) -> None:
    """A required field's column missing from the file fails it (checked on the first row)."""
    needed = (plan.identifier,) if plan.is_patch else plan.mapped
    for mapped in needed:
        if mapped.spec.required and mapped.column not in columns:
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


# --- the fast path for a well-formed row -----------------------------------------------------


class _NotPlain(Exception):
    """The fast path cannot take this row; the exact path decides what is wrong with it."""


_FAST_CONVERTERS: dict[str, Callable[[str], Any]] = {
    FieldType.INTEGER: int,
    FieldType.DECIMAL: CONVERTERS[FieldType.DECIMAL],
    FieldType.BOOLEAN: CONVERTERS[FieldType.BOOLEAN],
    FieldType.DATE: CONVERTERS[FieldType.DATE],
    FieldType.DATETIME: CONVERTERS[FieldType.DATETIME],
}


# Email and phone values are kept as text once they match (see entities.validation).
_FAST_PATTERNS: dict[str, Callable[[str], Any]] = {
    FieldType.EMAIL: EMAIL_RE.match,
    FieldType.PHONE: PHONE_RE.match,
}


@lru_cache(maxsize=64)
def _fast_cleaner(plan: _Plan) -> Callable[[dict[str, Any]], tuple[str, dict[str, Any]]] | None:
    """A function, generated once per plan (files of one connector share it), that turns a
    row whose values are all plain text, present and valid into (external id, typed data), and
    raises for anything else, so that the exact path (_clean_row) can say what is wrong. It
    does what _clean_row does for such a row, without a call per value; it exists because
    this runs for every row of every file.

    Names from the entity and the file never enter the code: columns, fields, lengths and
    patterns are given to a factory as tuples and read into closure variables, the fastest a
    function reads. None for Patch, whose rows keep the fields their file lacks."""
    if plan.is_patch:
        return None
    count = len(plan.mapped)
    raw = ", ".join(f"v{i}" for i in range(count))
    outer = ["def factory(COLUMNS, FIELDS, LENGTHS, PATTERNS, CONVERT, SHAPES):"]
    inner = ["    def clean(values):"]
    inner += [f"        v{i} = values[c{i}]" for i in range(count)]
    # One check a row instead of two a value; join raises TypeError unless all are text.
    inner += [
        f'        raw = "".join(({raw},))',
        '        if "\\x00" in raw or not raw.isascii():',
        *(f"            STORABLE(v{i})" for i in range(count)),
    ]
    for i, mapped in enumerate(plan.mapped):
        outer += [f"    c{i} = COLUMNS[{i}]", f"    f{i} = FIELDS[{i}]"]
        checks = _fast_checks(i, mapped.spec, outer)
        inner += [f"        v{i} = v{i}.strip()", f"        if not v{i}:"]
        inner.append(
            "            raise NotPlain" if mapped.spec.required else f"            v{i} = None"
        )
        if checks:
            inner += ["        else:", *(f"            {check}" for check in checks)]
    data = ", ".join(f"f{i}: v{i}" for i in range(count))
    inner += [f"        {line}" for line in _identifier_lines(plan)]
    inner.append(f"        return external_id, {{{data}}}")
    factory = _compiled_factory(outer, inner)
    return factory(
        tuple(m.column for m in plan.mapped),
        tuple(m.field for m in plan.mapped),
        *_check_tables(plan),
    )


def _identifier_lines(plan: _Plan) -> list[str]:
    """Generated code: the row's external id from its cleaned values, or NotPlain."""
    return [
        f"external_id = v{plan.mapped.index(plan.identifier)}",
        "if external_id is None: raise NotPlain",
        "external_id = str(external_id)",
        "if len(external_id) > MAX_EXTERNAL_ID: raise NotPlain",
    ]


def _compiled_factory(outer: list[str], inner: list[str]) -> Callable[..., Any]:
    """Compile a generated factory (its closure variables in `outer`, the cleaner in
    `inner`); only constants of this module are in its namespace."""
    namespace: dict[str, Any] = {
        "STORABLE": _check_storable,
        "NotPlain": _NotPlain,
        "MAX_EXTERNAL_ID": MAX_EXTERNAL_ID,
    }
    code = "\n".join([*outer, *inner, "    return clean"])
    exec(code, namespace)  # noqa: S102 - the code is built from constants, never from names
    return namespace["factory"]  # type: ignore[no-any-return]


def _check_tables(plan: _Plan) -> tuple[tuple[Any, ...], ...]:
    """LENGTHS, PATTERNS, CONVERT and SHAPES of a generated factory, by mapped field."""
    return (
        tuple(m.spec.max_length for m in plan.mapped),
        tuple(
            re.compile(m.spec.validation_regex).fullmatch if m.spec.validation_regex else None
            for m in plan.mapped
        ),
        tuple(_FAST_CONVERTERS.get(m.spec.field_type) for m in plan.mapped),
        tuple(_FAST_PATTERNS.get(m.spec.field_type) for m in plan.mapped),
    )


def _fast_checks(i: int, spec: FieldSpec, outer: list[str]) -> list[str]:
    """The generated checks (and conversion) of a present value of field i; the closure
    variables they read are added to `outer`."""
    checks: list[str] = []
    if spec.max_length is not None:
        outer.append(f"    len{i} = LENGTHS[{i}]")
        checks.append(f"if len(v{i}) > len{i}: raise NotPlain")
    if spec.validation_regex:
        outer.append(f"    pattern{i} = PATTERNS[{i}]")
        checks.append(f"if pattern{i}(v{i}) is None: raise NotPlain")
    if spec.field_type in _FAST_PATTERNS:
        outer.append(f"    shape{i} = SHAPES[{i}]")
        checks.append(f"if shape{i}(v{i}) is None: raise NotPlain")
    elif spec.field_type != FieldType.TEXT:
        outer.append(f"    convert{i} = CONVERT[{i}]")
        checks.append(f"v{i} = convert{i}(v{i})")
    return checks


BlockCleaner = Callable[[list[list[str]], int, int, int, list[_Candidate]], int]


@lru_cache(maxsize=64)
def _block_cleaner(
    plan: _Plan, header: tuple[str, ...], encoded: bool, clean_block: bool
) -> BlockCleaner | None:
    """A function generated once per plan and header, like _fast_cleaner, for the rows of a
    PlainBlock (lists of text by column): clean(rows, i, stop, first_line, out) appends a
    candidate to `out` for each of rows[i:stop] while they are plain and valid, and returns
    the index of the first that is not (stop if all were), for the exact path to read.

    With `encoded`, a candidate's data is its JSON text, written by the function instead of
    encoded by json from a dict: only rows whose values are printable text without a quote or
    a backslash are taken, so no value (and no identifier, in COPY) needs escaping. For a
    block whose text is `clean` (PlainBlock.clean), that was checked once for all its rows.
    None for Patch."""
    if plan.is_patch:
        return None
    count = len(plan.mapped)
    positions = _positions(header)
    present = [i for i, m in enumerate(plan.mapped) if m.column in positions]
    outer = [
        "def factory(INDEXES, KEYS, LENGTHS, PATTERNS, CONVERT, SHAPES, WIDTH, CANDIDATE):",
    ]
    inner = [
        "    def clean(rows, i, stop, first_line, out):",
        "        append = out.append",
        "        while i < stop:",
        "            fields = rows[i]",
        "            try:",
        "                if len(fields) != WIDTH: return i",
    ]
    body: list[str] = []
    body += [f"v{i} = fields[k{i}]" for i in present]
    values = ", ".join(f"v{i}" for i in present)
    if present and not clean_block:
        body.append(f'raw = "".join(({values},))')
        if encoded:
            body.append(
                """if '"' in raw or "\\\\" in raw or not raw.isprintable(): raise NotPlain"""
            )
        else:
            body += [
                'if "\\x00" in raw or not raw.isascii():',
                *(f"    STORABLE(v{i})" for i in present),
            ]
    for i, mapped in enumerate(plan.mapped):
        outer.append(f"    f{i} = KEYS[{i}]")
        if i not in present:  # a column the file lacks: the field is set to null
            body.append(f'j{i} = "null"' if encoded else f"v{i} = None")
            continue
        outer.append(f"    k{i} = INDEXES[{i}]")
        checks = _fast_checks(i, mapped.spec, outer)
        body += [f"v{i} = v{i}.strip()", f"if not v{i}:"]
        if mapped.spec.required:
            body.append("    raise NotPlain")
        else:
            body.append(f'    j{i} = "null"' if encoded else f"    v{i} = None")
        present_value = [*checks, f"j{i} = {_json_fragment(i, mapped.spec)}"] if encoded else checks
        if present_value:
            body += ["else:", *(f"    {line}" for line in present_value)]
    if encoded:
        data = 'f"{{' + ",".join(f"{{f{i}}}{{j{i}}}" for i in range(count)) + '}}"'
    else:
        data = "{" + ", ".join(f"f{i}: v{i}" for i in range(count)) + "}"
    body += _identifier_lines(plan)
    inner += [f"                {line}" for line in body]
    inner += [
        "            except Exception:",
        "                return i",
        f"            append(CANDIDATE(first_line + i, external_id, {data}))",
        "            i += 1",
        "        return i",
    ]
    factory = _compiled_factory(outer, inner)
    names = tuple(m.field for m in plan.mapped)
    return factory(  # type: ignore[no-any-return]
        tuple(positions.get(m.column) for m in plan.mapped),
        tuple(_dumps(name) + ":" for name in names) if encoded else names,
        *_check_tables(plan),
        len(header),
        _Candidate,
    )


def _positions(header: tuple[str, ...]) -> dict[str, int]:
    """Each column's index (the first, if a name repeats): one pass, however wide the file."""
    positions: dict[str, int] = {}
    for index, name in enumerate(header):
        positions.setdefault(name, index)
    return positions


def _json_fragment(i: int, spec: FieldSpec) -> str:
    """The expression of generated code that gives value i (not null, cleaned) as JSON."""
    if spec.field_type == FieldType.INTEGER:
        return f"str(v{i})"
    if spec.field_type == FieldType.BOOLEAN:
        return f'"true" if v{i} else "false"'
    # Text, and what the converters make of decimals and dates: plain text by then.
    return f"f'\"{{v{i}}}\"'"


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
        if config.entity_locked_at is None:
            self.sql.lock_entity_type()
        else:
            self.sql.now = config.entity_locked_at  # the time that lock gave, for all files
        # What Sync's deletion limit is measured against: the connector's records before the
        # file. Counted only when there is a limit.
        self.sync_scope = (
            self.sql.count_connectors_records()
            if self.plan.is_sync and config.delete_limit_percent < 100
            else None
        )
        self.batch_size = max(1, batch_size)
        self.outcome = FileOutcome()
        self.background = (
            _BackgroundWrites(self, self.sql)
            if isinstance(self.sql, _PostgresSql)
            and self.plan.integration_type in {IntegrationType.UPSERT, IntegrationType.SYNC}
            else None
        )
        self.batch: list[_Candidate] = []
        self.fast_clean = _fast_cleaner(self.plan)
        self.encoded = not self.sql.merges_in_python  # plain rows' data as JSON text
        self.columns_checked = False
        self.stopped_early = False
        self.wrote = False  # a statement that writes records was sent

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

    def add_block(self, block: PlainBlock) -> None:
        """The rows of a block: runs of plain, valid rows are cleaned by one call of a
        generated function; any other row (blank, ragged, invalid) is read like add()'s."""
        if not self.columns_checked:
            _check_columns(frozenset(block.header), self.plan)
            self.columns_checked = True
        clean = _block_cleaner(self.plan, block.header, self.encoded, block.clean)
        rows, first_line = block.rows, block.first_line
        i, end = 0, len(rows)
        while i < end:
            if clean is not None:
                stop = min(end, i + self.batch_size - len(self.batch))
                done = clean(rows, i, stop, first_line, self.batch)
                self.outcome.rows_total += done - i
                i = done
                if len(self.batch) >= self.batch_size:
                    self._flush()
                if i == stop:
                    continue
            row = block.row(i)  # not plain: the exact path says why
            i += 1
            if row is not None:
                self.add(row)
                if self.has_seen_enough:
                    return

    def _add_parsed(self, row: ParsedRow) -> None:
        if not self.columns_checked:
            _check_columns(row.values, self.plan)
            self.columns_checked = True
        if self.fast_clean is not None:
            cleaned = self._clean_fast(row.values)
            if cleaned is not None:
                self.batch.append(_Candidate(row.line, *cleaned))
                return
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

    def _clean_fast(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        try:
            return self.fast_clean(values)  # type: ignore[misc]
        except Exception:
            return None  # whatever it is, the exact path says what is wrong

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

    def _flush(self, *, final: bool = False) -> None:
        batch, self.batch = self.batch, []
        if not batch or self.is_doomed:
            return
        self.wrote = True
        # A file of one batch (most small files) is written at once: a thread would only cost.
        if self.background is not None and final and self.background.idle:
            self.background.write_now(batch)
        elif self.background is not None:
            self.background.submit(batch)
        else:
            _BatchWriter(self, batch).write()

    def finish(self) -> FileOutcome:
        self._flush(final=True)
        if self.background is not None:
            self.background.collect()
        outcome = self.outcome
        if not self.config.tolerance.allows(outcome.failed_rows, outcome.rows_total):
            raise TooManyBadRows(self._too_many_message(), outcome)
        if self.plan.is_sync and outcome.failed_rows < outcome.rows_total:
            self.wrote = True
            outcome.deleted = self.sql.delete_unseen()
            self._check_deletion_limit(outcome.deleted)
        return outcome

    def _check_deletion_limit(self, deleted: int) -> None:
        """Deleting first and failing afterwards (the caller rolls the file back) costs one
        statement on the way every file within the limit takes; a file beyond it pays."""
        scope, limit = self.sync_scope, self.config.delete_limit_percent
        if scope is None or deleted == 0 or deleted * 100 <= limit * scope:
            return
        raise SyncLimitExceeded(
            f"Sync would remove {deleted:,} of the {scope:,} records this connector wrote "
            f"({_percent_above(deleted, scope, limit)}), more than its limit of {limit}%; "
            "nothing from this file was written"
        )

    def stop(self) -> None:
        """Wait for a batch still being written (the caller may be about to roll back)."""
        if self.background is not None:
            self.background.close()

    def _too_many_message(self) -> str:
        failed, total = self.outcome.failed_rows, self.outcome.rows_total
        verb = "is" if failed == 1 else "are"
        counted = (
            f"at least {failed:,} of the first {total:,} rows {verb} invalid"
            if self.stopped_early
            else f"{failed:,} of {total:,} rows {verb} invalid"
        )
        return f"{counted}; the connector allows {_allowance(self.config)}"


def _percent_above(part: int, whole: int, limit: int) -> str:
    """part/whole as a percentage with as few decimals as show it above `limit`."""
    value = part * 100 / max(whole, 1)
    text = ""
    for decimals in range(1, 7):
        text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
        if float(text) > limit:
            break
    return f"{text}%"


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
    data: Data
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


# --- PostgreSQL Upsert and Sync: writing while the next batch is read ----------------------


@dataclass(frozen=True)
class _BatchResult:
    created: int
    updated: int
    repeated: list[str]  # identifiers an earlier batch of this file had written: not written


class _BackgroundWrites:
    """Upsert and Sync on PostgreSQL: each batch is written by one background thread while the
    caller reads and validates the next one, so the database server (on another core) and this
    process work at the same time. The thread uses this connection, so its writes belong to
    the caller's transaction; at most one batch is in flight, and its results are applied
    before the next one is sent.

    A repeated unique identifier within a batch is found here; one that an earlier batch
    wrote is found by the database (the upsert leaves records carrying this file's token
    alone) and reported when the batch's result is collected."""

    def __init__(self, file: _FileWriter, sql: "_PostgresSql") -> None:
        self.file = file
        self.sql = sql
        self.executor: ThreadPoolExecutor | None = None
        self.pending: Future[_BatchResult] | None = None
        self.pending_lines: dict[str, int] = {}

    @property
    def idle(self) -> bool:
        """No batch has been given to the thread yet."""
        return self.executor is None

    def submit(self, batch: list[_Candidate]) -> None:
        writes, seen, lines = self._split(batch)
        self.collect()
        if self.file.is_doomed or not (writes or seen):
            return
        if self.executor is None:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        # Built here, on the caller's thread, which would otherwise wait for the writer.
        text = self.sql.copy_text(writes) if writes and self.sql.expect_new else None
        self.pending = self.executor.submit(self.sql.write_batch, writes, seen, text)
        self.pending_lines = lines

    def _split(self, batch: list[_Candidate]) -> tuple[list[_Candidate], list[str], dict[str, int]]:
        """(rows to write, identifiers of Sync's bad rows to keep, first line of each id)."""
        lines: dict[str, int] = {}
        writes: list[_Candidate] = []
        seen: list[str] = []
        for candidate in batch:
            first_line = lines.get(candidate.external_id)
            if first_line is not None:
                if candidate.data is not None:  # a failed row is already counted
                    self._reject(
                        candidate.line,
                        f"duplicate unique identifier {candidate.external_id!r} "
                        f"(first on line {first_line})",
                    )
                continue
            lines[candidate.external_id] = candidate.line
            if candidate.data is None:
                seen.append(candidate.external_id)
            else:
                writes.append(candidate)
        return writes, seen, lines

    def write_now(self, batch: list[_Candidate]) -> None:
        """A file's only batch, written on this thread by one upsert: a look-up first would be
        a second statement, and COPY pays off only for large batches."""
        writes, seen, lines = self._split(batch)
        if self.file.is_doomed or not (writes or seen):
            return
        with connection.wrap_database_errors:
            result = self.sql.write_batch(writes, seen, upsert_only=True)
        self._apply(result, lines)

    def collect(self) -> None:
        """Apply the result of the batch in flight, if any (its errors are raised here)."""
        if self.pending is None:
            return
        pending, self.pending = self.pending, None
        with connection.wrap_database_errors:  # psycopg errors as Django's, like the ORM's
            result = pending.result()
        self._apply(result, self.pending_lines)

    def _apply(self, result: "_BatchResult", lines: dict[str, int]) -> None:
        outcome = self.file.outcome
        outcome.created += result.created
        outcome.updated += result.updated
        for external_id in result.repeated:
            message = (
                f"duplicate unique identifier {external_id!r} (it appears earlier in the file)"
            )
            self._reject(lines[external_id], message)

    def _reject(self, line: int, reason: str) -> None:
        column = self.file.plan.identifier.column
        self.file.count_failure([RowError(line, column, reason)])

    def close(self) -> None:
        if self.pending is not None:
            try:
                self.pending.exception()  # wait; the caller is already raising or collecting
            finally:
                self.pending = None
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dumps(data: Any) -> str:
    return _ENCODE(data)


def _json_of(data: Data) -> str:
    return data if data.__class__ is str else _ENCODE(data)  # type: ignore[return-value]


# --- SQL ------------------------------------------------------------------------------------


class _Sql(ABC):
    """The writer's statements; subclasses hold each database vendor's dialect."""

    merges_in_python = False

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        self.entity_type_id = config.entity_type_id
        self.token = config.file_token
        self.connector = config.connector_id
        self.now = connection.ops.adapt_datetimefield_value(now)
        quote = connection.ops.quote_name
        columns = (
            "entity_type",
            "external_id",
            "data",
            "last_file_id",
            "connector_id",
            "created_at",
            "updated_at",
        )
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

    # Records have no foreign key constraint (see entities.models.Record): this lock, held
    # until the file's transaction ends, is what the constraint's trigger took for every row.
    # Several files in one transaction take it once (lock_entity_type below).
    _LOCK_ENTITY_TYPE = (
        "SELECT CURRENT_TIMESTAMP FROM {entity_table} WHERE {entity_pk} = %s FOR KEY SHARE"
    )

    def lock_entity_type(self) -> None:
        """Hold the entity type for this file's transaction, or fail the file if it is gone:
        deleting it waits for the file, then deletes the file's records too."""
        meta = EntityType._meta
        quote = connection.ops.quote_name
        _, rows = self._run(
            self._LOCK_ENTITY_TYPE,
            [self.entity_type_id],
            entity_table=quote(meta.db_table),
            entity_pk=quote(meta.pk.column),
        )
        if not rows:
            raise FileFailed(
                f"the entity (id {self.entity_type_id}) this connector writes into no longer exists"
            )
        if rows[0][0] is not None:
            self.now = rows[0][0]  # the transaction's time, which COPY's defaults give records

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
        """Delete the entity's records of this connector without the file's token; the number
        deleted."""

    def count_connectors_records(self) -> int:
        """The number of the entity's records this connector wrote last."""
        _, rows = self._run(
            "SELECT COUNT(*) FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s",
            [self.entity_type_id, self.connector],
        )
        return int(rows[0][0])


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
        "{connector_id}, {created_at}, {updated_at}) "
        "SELECT %s, u.external_id, u.data, %s, %s, %s, %s "
        "FROM jsonb_to_recordset(%s::jsonb) AS u(external_id text, data jsonb) "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )

    IDS_FROM_JSON = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        super().__init__(config, now)
        # The caller's connection itself: `connection` is per thread, and the background
        # writer's thread must use this one, inside the caller's transaction.
        connection.ensure_connection()
        self.db = connections[DEFAULT_DB_ALIAS]
        # Until a COPY meets a record that exists, a batch is COPYd without looking its
        # identifiers up first (a new load costs no lookups); after that, every batch is.
        self.expect_new = True

    def _run(
        self, template: str, params: list[Any], **parts: str
    ) -> tuple[int, list[tuple[Any, ...]]]:
        return super()._run(template, params, ids_from_json=self.IDS_FROM_JSON, **parts)

    def _insert_params(self, writes: list[_Write]) -> list[Any]:
        return [
            self.entity_type_id,
            self.token,
            self.connector,
            self.now,
            self.now,
            _batch_json(writes),
        ]

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
            "{last_file_id} = EXCLUDED.{last_file_id}, {connector_id} = EXCLUDED.{connector_id}, "
            "{updated_at} = EXCLUDED.{updated_at} "
            "WHERE r.{last_file_id} IS DISTINCT FROM EXCLUDED.{last_file_id} "
            "RETURNING (r.xmax = 0)",  # xmax is 0 in a row version this statement inserted
            self._insert_params(writes),
        )
        created = sum(1 for (inserted,) in rows if inserted)
        return created, len(rows) - created

    def update(self, writes: list[_Write]) -> int:
        count, _ = self._run(
            "UPDATE {table} AS r SET {data} = r.{data} || u.data, {last_file_id} = %s, "
            "{connector_id} = %s, {updated_at} = %s "
            "FROM jsonb_to_recordset(%s::jsonb) AS u(external_id text, data jsonb) "
            "WHERE r.{entity_type} = %s AND r.{external_id} = u.external_id "
            "AND r.{last_file_id} IS DISTINCT FROM %s",
            [
                self.token,
                self.connector,
                self.now,
                _batch_json(writes),
                self.entity_type_id,
                self.token,
            ],
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
            "DELETE FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s "
            "AND {last_file_id} IS DISTINCT FROM %s",
            [self.entity_type_id, self.connector, self.token],
        )
        return count

    # Background batches (Upsert and Sync). These run on the writer thread, so they use the
    # psycopg connection directly (Django's wrapper belongs to the caller's thread), with
    # server-side binding: the batch document travels as one parameter, unquoted.

    # created_at and updated_at are left to their database default: the transaction's time,
    # which lock_entity_type made the file's time (self.now) too.
    _COPY = (
        "COPY {table} ({entity_type}, {external_id}, {data}, {last_file_id}, {connector_id}) "
        "FROM STDIN"
    )

    def write_batch(
        self,
        writes: list[_Candidate],
        seen: list[str],
        copy_text: str | None = None,
        *,
        upsert_only: bool = False,
    ) -> _BatchResult:
        """Write a batch: COPY the records that do not exist yet (the fast path for new data),
        upsert the others; then give Sync's bad rows' records the token. `copy_text` is the
        whole batch in COPY's format, built by the caller while expect_new holds: it is tried
        first, with no lookup. `upsert_only` upserts them all in one statement (small
        batches). Any other statement's failure fails the batch, and with it the caller's
        transaction."""
        import psycopg

        with psycopg.Cursor(self.db.connection) as cursor:
            if upsert_only:
                created, updated, repeated = (
                    self._upsert_returning(cursor, writes) if writes else (0, 0, [])
                )
            elif copy_text is not None and self._copy(cursor, copy_text):
                created, updated, repeated = len(writes), 0, []
            else:
                self.expect_new = False
                created, updated, repeated = self._look_up_and_write(cursor, writes)
            if seen:
                self._raw(cursor, self._MARK_SEEN, [self.token, self.entity_type_id, _dumps(seen)])
        return _BatchResult(created, updated, repeated)

    def _look_up_and_write(
        self, cursor: Any, writes: list[_Candidate]
    ) -> tuple[int, int, list[str]]:
        """(created, updated, repeated): COPY the records not found, upsert the others."""
        existing = self._existing_ids(cursor, [w.external_id for w in writes])
        new = [w for w in writes if w.external_id not in existing]
        old = [w for w in writes if w.external_id in existing]
        created = 0
        if new:
            if self._copy(cursor, self.copy_text(new)):
                created = len(new)
            else:  # another transaction inserted some meanwhile
                old = writes
        updated, repeated = 0, []
        if old:
            inserted, updated, repeated = self._upsert_returning(cursor, old)
            created += inserted
        return created, updated, repeated

    # Identifiers travel as a JSON array: with "= ANY(%s::text[])" the planner trusts the
    # array's length and may scan every record of the entity instead of using the unique index.
    _MARK_SEEN = (
        "UPDATE {table} SET {last_file_id} = %s "
        "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})"
    )

    def _raw(self, cursor: Any, template: str, params: list[Any]) -> list[tuple[Any, ...]]:
        sql = template.format(**self.names, ids_from_json=self.IDS_FROM_JSON)
        started = time.monotonic()
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        if self.db.queries_logged:  # DEBUG (and tests counting queries) see these too
            elapsed = time.monotonic() - started
            self.db.queries_log.append({"sql": sql, "time": f"{elapsed:.3f}"})
        return rows

    def _existing_ids(self, cursor: Any, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        rows = self._raw(
            cursor,
            "SELECT {external_id} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.entity_type_id, _dumps(ids)],
        )
        return {external_id for (external_id,) in rows}

    def _copy(self, cursor: Any, text: str) -> bool:
        """COPY new records in a savepoint; False (and nothing written) if one of them exists:
        this file or another transaction wrote it since it was (or instead of being) looked
        up."""
        import psycopg

        self._raw(cursor, "SAVEPOINT ingest_copy", [])
        started = time.monotonic()
        try:
            with cursor.copy(self._COPY.format(**self.names)) as copy:
                copy.write(text)
        except psycopg.errors.UniqueViolation:
            self._raw(cursor, "ROLLBACK TO SAVEPOINT ingest_copy", [])
            return False
        if self.db.queries_logged:
            elapsed = time.monotonic() - started
            self.db.queries_log.append({"sql": self._COPY, "time": f"{elapsed:.3f}"})
        self._raw(cursor, "RELEASE SAVEPOINT ingest_copy", [])
        return True

    def copy_text(self, new: list[_Candidate]) -> str:
        """Records in COPY's text format, built at once: a write_row call per record costs
        more than the record's JSON encoding (see BENCHMARKS.md). Data that is JSON text
        already comes from a block cleaner, which takes no value that COPY would need escaped."""
        connector = "\\N" if self.connector is None else self.connector  # COPY's null
        head, tail = f"{self.entity_type_id}\t", f"\t{self.token}\t{connector}\n"
        return "".join(
            [
                f"{head}{w.external_id}\t{w.data}{tail}"
                if w.data.__class__ is str
                else f"{head}{_copy_escaped(w.external_id)}\t{_copy_escaped(_dumps(w.data))}{tail}"
                for w in new
            ]
        )

    def _upsert_returning(self, cursor: Any, old: list[_Candidate]) -> tuple[int, int, list[str]]:
        """(created, updated, identifiers left alone because this file already wrote them)."""
        rows = self._raw(
            cursor,
            "INSERT INTO {table} AS r ({entity_type}, {external_id}, {data}, {last_file_id}, "
            "{connector_id}, {created_at}, {updated_at}) "
            "SELECT %s, u->>0, u->1, %s, %s, %s, %s FROM jsonb_array_elements(%s::jsonb) AS u "
            "ON CONFLICT ({entity_type}, {external_id}) "
            "DO UPDATE SET {data} = r.{data} || EXCLUDED.{data}, "
            "{last_file_id} = EXCLUDED.{last_file_id}, {connector_id} = EXCLUDED.{connector_id}, "
            "{updated_at} = EXCLUDED.{updated_at} "
            "WHERE r.{last_file_id} IS DISTINCT FROM EXCLUDED.{last_file_id} "
            "RETURNING r.{external_id}, (r.xmax = 0)",
            [
                self.entity_type_id,
                self.token,
                self.connector,
                self.now,
                self.now,
                _pairs_json(old),
            ],
        )
        created = sum(1 for _, inserted in rows if inserted)
        repeated: list[str] = []
        if len(rows) < len(old):
            written = {external_id for external_id, _ in rows}
            repeated = [w.external_id for w in old if w.external_id not in written]
        return created, len(rows) - created, repeated


# COPY's text format gives a backslash, tab, newline and carriage return a meaning of their own.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_escaped(text: str) -> str:
    return text.translate(_COPY_ESCAPES) if "\\" in text or not text.isprintable() else text


def _batch_json(writes: list[_Write]) -> str:
    """[{"external_id": ..., "data": {...}}, ...] (data may be JSON text already)."""
    parts = [f'{{"external_id":{_dumps(w.external_id)},"data":{_json_of(w.data)}}}' for w in writes]
    return f"[{','.join(parts)}]"


def _pairs_json(candidates: list[_Candidate]) -> str:
    """[[external_id, {...}], ...] (data may be JSON text already)."""
    parts = [f"[{_dumps(c.external_id)},{_json_of(c.data)}]" for c in candidates]  # type: ignore[arg-type]
    return f"[{','.join(parts)}]"


class _SqliteSql(_Sql):
    """SQLite's json_patch() drops null values, so data is merged in Python; SQLite runs one
    writer at a time, so the data looked up cannot change before it is written back."""

    merges_in_python = True
    _LOCK_ENTITY_TYPE = "SELECT NULL FROM {entity_table} WHERE {entity_pk} = %s"  # no row locks
    _INSERT = (
        "INSERT INTO {table} ({entity_type}, {external_id}, {data}, {last_file_id}, "
        "{connector_id}, {created_at}, {updated_at}) "
        "SELECT %s, column1, column2, %s, %s, %s, %s FROM (VALUES {rows}) WHERE true "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )
    _UPSERT = _INSERT + (
        "DO UPDATE SET {data} = excluded.{data}, {last_file_id} = excluded.{last_file_id}, "
        "{connector_id} = excluded.{connector_id}, {updated_at} = excluded.{updated_at} "
        "WHERE {table}.{last_file_id} IS NOT excluded.{last_file_id}"
    )
    _UPDATE = (
        "UPDATE {table} SET {data} = v.column2, {last_file_id} = %s, {connector_id} = %s, "
        "{updated_at} = %s "
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
            values = [value for w in part for value in (w.external_id, _json_of(w.data))]
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

    def _head(self) -> list[Any]:
        return [self.entity_type_id, self.token, self.connector, self.now, self.now]

    def insert(self, writes: list[_Write]) -> int:
        return self._with_values(self._INSERT + "DO NOTHING", writes, self._head(), [])

    def upsert(self, writes: list[_Write]) -> tuple[int, int]:
        written = self._with_values(self._UPSERT, writes, self._head(), [])
        created = sum(1 for w in writes if w.is_new)
        return created, written - created

    def update(self, writes: list[_Write]) -> int:
        return self._with_values(
            self._UPDATE,
            writes,
            [self.token, self.connector, self.now],
            [self.entity_type_id, self.token],
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
            "DELETE FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s "
            "AND {last_file_id} IS NOT %s",
            [self.entity_type_id, self.connector, self.token],
        )
        return count


def _parts(items: list[Any]) -> list[list[Any]]:
    step = SQLITE_ROWS_PER_STATEMENT
    return [items[start : start + step] for start in range(0, len(items), step)]


def lock_entity_type(entity_type_id: int) -> datetime:
    """Lock the entity type for the caller's transaction, for all the files it writes (pass
    the result as IngestConfig.entity_locked_at); raises FileFailed if it no longer exists.
    Returns the time to give their records (on PostgreSQL, the transaction's)."""
    config = IngestConfig(entity_type_id, IntegrationType.UPSERT, (), {}, Tolerance(), 0, None)
    sql = _sql_for(config, timezone.now())
    sql.lock_entity_type()
    return sql.now
