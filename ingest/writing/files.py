"""A file's rows into entity records: write_file, which returns the file's FileOutcome.

Runs inside the caller's transaction. Rows come one by one (ParsedRow, or the parser's
BadRow) or as PlainBlocks of plain CSV lines; each is cleaned by a generated fast path if it
can be (ingest.writing.compiled) or else by the exact path (ingest.writing.rows), and valid
rows are gathered into batches of BATCH_ROWS, written by ingest.writing.batches. On
PostgreSQL a file's batches are written on a background thread while the next one is read
(ingest.writing.inflight). A file fails as a whole (FileOutcome.failure) when the parser
raises FileFailed, when a required column is missing, when it has more bad rows than the
connector tolerates, when Sync would delete more than the connector's limit, or when its entity
type is gone; records it wrote by then are for the caller to roll back (wrote_records).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from connectors.models import IntegrationType
from ingest.parsers import BadRow, PlainBlock
from ingest.types import (
    DbTime,
    FileFailed,
    FileOutcome,
    IngestConfig,
    ParsedRow,
    RowProblem,
    Tolerance,
)
from ingest.writing.batches import BatchResult, BatchWriter
from ingest.writing.compiled import block_cleaner, row_cleaner
from ingest.writing.inflight import InFlight
from ingest.writing.plan import check_columns, plan_for
from ingest.writing.rows import Candidate, clean_row, external_id, identifier_of
from ingest.writing.statements import Statements

# Rows per batch. Large because the writer thread needs the GIL for a moment at each
# statement of a batch and waits up to the switch interval (5 ms) for it while the caller
# parses: with 2,000 rows a batch those waits took a third of a 1M-row upsert (BENCHMARKS.md).
# A batch of 10,000 rows holds about 15 MB.
BATCH_ROWS = 10_000


def write_file(
    rows: Iterable[ParsedRow | BadRow | PlainBlock],
    config: IngestConfig,
    *,
    batch_size: int = BATCH_ROWS,
    statements: Statements | None = None,
) -> FileOutcome:
    """Write the rows (PlainBlocks hold runs of them) and return what that did. A file that
    fails as a whole is an outcome too (its `failure`); database errors and bugs raise.
    `statements`: the database's own unless given (ingest.writing.dry's write nothing)."""
    outcome = FileOutcome()
    writer: _FileWriter | None = None
    try:
        writer = _FileWriter(config, batch_size, outcome, statements)
        writer.write(rows)
    except FileFailed as exc:
        outcome.failure = str(exc)
    finally:
        if writer is not None:
            writer.stop()
    return outcome


def lock_entity_type(entity_type_id: int) -> DbTime:
    """Lock the entity type for the caller's transaction, for all the files it writes (pass
    the result as IngestConfig.entity_locked_at); raises FileFailed if it no longer exists.
    Returns the time to give their records (on PostgreSQL, the transaction's)."""
    config = IngestConfig(entity_type_id, IntegrationType.UPSERT, (), {}, Tolerance(), 0, None)
    statements = _statements_for(config, timezone.now())
    statements.lock_entity_type()
    return statements.now


def _statements_for(config: IngestConfig, now: datetime) -> Statements:
    # Imported here: PostgreSQL's module loads psycopg's, 10 MB a SQLite process never needs.
    vendor = connections[DEFAULT_DB_ALIAS].vendor
    if vendor == "postgresql":
        from ingest.writing.postgres import PostgresStatements

        return PostgresStatements(config, now)
    if vendor == "sqlite":
        from ingest.writing.sqlite import SqliteStatements

        return SqliteStatements(config, now)
    raise NotImplementedError(f"the ingest writer does not support {vendor}")


class _FileWriter:
    """The rows of one file: cleaned, counted, gathered into batches and sent to be written."""

    def __init__(
        self,
        config: IngestConfig,
        batch_size: int,
        outcome: FileOutcome,
        statements: Statements | None,
    ) -> None:
        self.config = config
        self.outcome = outcome
        self.plan = plan_for(config)
        self.statements = statements or _statements_for(config, timezone.now())
        if config.entity_locked_at is None:
            self.statements.lock_entity_type()
        else:
            self.statements.now = config.entity_locked_at  # the time that lock gave, for all
        # What Sync's deletion limit is measured against: the connector's records before the
        # file. Counted only when there is a limit.
        self.sync_scope = (
            self.statements.count_connectors_records()
            if self.plan.is_sync and config.delete_limit_percent < 100
            else None
        )
        self.batch_size = max(1, batch_size)
        self.batches = BatchWriter(self.plan, self.statements, config.file_token)
        self.in_flight: InFlight[BatchResult] | None = (
            InFlight(self.statements.db) if self.statements.copies else None
        )
        self.batch: list[Candidate] = []
        self.fast_clean = row_cleaner(self.plan)
        self.encoded = not self.statements.merges_in_python  # plain rows' data as JSON text
        self.columns_checked = False
        self.stopped_early = False

    def write(self, rows: Iterable[ParsedRow | BadRow | PlainBlock]) -> None:
        for row in rows:
            if isinstance(row, PlainBlock):
                self.add_block(row)
            else:
                self.add(row)
            if self.has_seen_enough:
                self.stopped_early = True
                break
        self.finish()

    # adding rows

    def add(self, row: ParsedRow | BadRow) -> None:
        self.outcome.rows_total += 1
        if isinstance(row, BadRow):
            identifier = identifier_of(row.values, self.plan) if self.plan.is_sync else None
            self._fail([RowProblem(row.line, "", row.reason)], row.line, identifier)
        else:
            self._add_parsed(row)
        if len(self.batch) >= self.batch_size:
            self._flush()

    def add_block(self, block: PlainBlock) -> None:
        """The rows of a block: runs of plain, valid rows are cleaned by one call of a
        generated function; any other row (blank, ragged, invalid) is read like add()'s."""
        if not self.columns_checked:
            check_columns(frozenset(block.header), self.plan)
            self.columns_checked = True
        clean = block_cleaner(self.plan, block.header, self.encoded, block.clean)
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
            check_columns(row.values, self.plan)
            self.columns_checked = True
        if self.fast_clean is not None:
            cleaned = self._clean_fast(row.values)
            if cleaned is not None:
                self.batch.append(Candidate(row.line, *cleaned))
                return
        cleaned_row = clean_row(row, self.plan)
        problems = cleaned_row.problems
        identifier = self.plan.identifier
        found_id = None
        if identifier.field in cleaned_row.data:
            found_id, id_problem = external_id(
                identifier, cleaned_row.data[identifier.field], row.line
            )
            if id_problem:
                problems.append(id_problem)
        if problems or found_id is None:
            self._fail(problems, row.line, found_id)
        else:
            missing = tuple(cleaned_row.absent) if self.plan.is_patch else ()
            self.batch.append(Candidate(row.line, found_id, cleaned_row.data, missing))

    def _clean_fast(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        if self.fast_clean is None:
            return None
        try:
            return self.fast_clean(values)
        except Exception:
            return None  # whatever it is, the exact path says what is wrong

    def _fail(self, problems: list[RowProblem], line: int, identifier: str | None) -> None:
        self.count_failure(problems)
        if self.plan.is_sync and identifier is not None and not self.is_doomed:
            self.batch.append(Candidate(line, identifier, None))

    def count_failure(self, problems: list[RowProblem]) -> None:
        """One failed row, with what is wrong with it."""
        self.outcome.failed_rows += 1
        room = FileOutcome.MAX_ERRORS_KEPT - len(self.outcome.errors)
        self.outcome.errors.extend(problems[: max(room, 0)])

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
        self.outcome.wrote_records = True
        if self.in_flight is None or (final and self.in_flight.idle):
            # Written at once on this thread: SQLite, and a file of one batch (most small
            # files), which a thread would only cost.
            only = final and self.in_flight is not None
            self._apply(self.batches.write(batch, only=only, prepared=None))
            return
        prepared = self.batches.prepare(batch)  # while the writer thread works
        self._apply(self.in_flight.wait())  # the batch before, written meanwhile
        if self.is_doomed:
            return
        self.in_flight.start(lambda: self.batches.write(batch, only=False, prepared=prepared))

    def _apply(self, result: BatchResult | None) -> None:
        if result is None:
            return
        outcome = self.outcome
        outcome.created += result.created
        outcome.updated += result.updated
        outcome.skipped += result.skipped
        for problem in result.problems:
            self.count_failure([problem])

    def finish(self) -> None:
        self._flush(final=True)
        if self.in_flight is not None:
            self._apply(self.in_flight.wait())
        outcome = self.outcome
        if not self.config.tolerance.allows(outcome.failed_rows, outcome.rows_total):
            raise FileFailed(self._too_many_message())
        if self.plan.is_sync and outcome.failed_rows < outcome.rows_total:
            outcome.wrote_records = True
            outcome.deleted = self.statements.delete_unseen()
            self._check_deletion_limit(outcome.deleted)

    def _check_deletion_limit(self, deleted: int) -> None:
        """Deleting first and failing afterwards (the caller rolls the file back) costs one
        statement on the way every file within the limit takes; a file beyond it pays."""
        scope, limit = self.sync_scope, self.config.delete_limit_percent
        if scope is None or deleted == 0 or deleted * 100 <= limit * scope:
            return
        raise FileFailed(
            f"Sync would remove {deleted:,} of the {scope:,} records this connector wrote "
            f"({_percent_above(deleted, scope, limit)}), more than its limit of {limit}%; "
            "nothing from this file was written"
        )

    def stop(self) -> None:
        """Wait for a batch still being written (the caller may be about to roll back)."""
        if self.in_flight is not None:
            self.in_flight.close()

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
