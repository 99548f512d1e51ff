"""One batch of rows: what each becomes (created, merged, skipped, kept, or a duplicate), then
the statements that write it.

Looked up (SQLite; PostgreSQL's Insert, Update and Patch): the batch's identifiers are looked
up, then row by row: an identifier this file wrote or kept already (an earlier row of the
batch, or a record carrying the file's token) makes a duplicate; Insert skips the records that
exist and Update the ones that do not; Patch cannot create a record without its required
fields; the rest is written, the new records of a file of several batches by COPY on
PostgreSQL; and for Sync the records of rows that failed validation get the file's token, so
they are kept.

Upsert and Sync on PostgreSQL, where every valid row is written and the upsert itself says
what it created, updated or left alone (a record this file wrote already: a duplicate): a
batch's repeats are found by the thread that reads the file, and the writer thread sends its
statements without deciding row by row (its Python would hold the GIL the reading thread
needs; BENCHMARKS.md). A file's only batch is one upsert. Until a COPY meets a record that
exists, each batch of a larger file is COPYd with no lookup (a load of new records costs no
lookups); after that, its identifiers are looked up, the new records COPYd and the others
upserted. A batch where a failed row's identifier comes back valid is looked up as above (only
a lookup tells whether that row keeps a record, which makes the valid one a duplicate).
"""

from dataclasses import dataclass, field

from connectors.models import IntegrationType
from ingest.types import RowProblem
from ingest.writing.plan import Plan
from ingest.writing.rows import Candidate
from ingest.writing.statements import Existing, Statements, Write


@dataclass
class BatchResult:
    """What writing a batch did, for the file's outcome (each problem is one failed row)."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[RowProblem] = field(default_factory=list)


@dataclass
class Unlooked:
    """A batch of Upsert or Sync on PostgreSQL: the first valid row of each identifier (the
    later ones are duplicates, in `result`), the identifiers of Sync's failed rows, to keep,
    and, while a load of new records is expected, the rows' COPY text."""

    rows: list[Candidate]
    seen: list[str]
    result: BatchResult
    copy_text: str | None = None


class BatchWriter:
    """Writes a file's batches, one after another, with the file's statements."""

    def __init__(self, plan: Plan, statements: Statements, token: int) -> None:
        self.plan = plan
        self.statements = statements
        self.token = token
        self.unlooked = plan.upserts and statements.upserts_unlooked and statements.copies
        # Until a COPY meets a record that exists, batches are COPYd with no lookup first.
        self.expect_new = self.unlooked

    def prepare(self, batch: list[Candidate]) -> Unlooked | None:
        """Upsert and Sync on PostgreSQL: the batch's repeats, and its COPY text while a load
        of new records is expected; made on the reading thread while the writer thread
        still writes the batch before (which may find that records exist: then the text is
        not used)."""
        if not self.unlooked:
            return None
        unlooked = self._unlooked(batch)
        if self.expect_new and unlooked.rows:
            unlooked.copy_text = self.statements.copy_text(unlooked.rows)
        return unlooked

    def write(
        self, batch: list[Candidate], *, only: bool, prepared: Unlooked | None
    ) -> BatchResult:
        """Write the batch (`prepared` by prepare()). `only`: the file has no other batch."""
        unlooked = prepared if prepared is not None or not self.unlooked else self._unlooked(batch)
        if unlooked is not None and not set(unlooked.seen) & {r.external_id for r in unlooked.rows}:
            return self._write_unlooked(unlooked, only=only)
        return self._look_up_and_write(batch, copy_new=self.statements.copies and not only)

    def _unlooked(self, batch: list[Candidate]) -> Unlooked:
        """A failed row's identifier claims nothing here: whether its record exists (then a
        later valid row of it is a duplicate) is what a lookup would tell."""
        unlooked = Unlooked([], [], BatchResult())
        lines: dict[str, int] = {}
        for candidate in batch:
            if candidate.data is None:
                if candidate.external_id not in lines:
                    unlooked.seen.append(candidate.external_id)
                continue
            first_line = lines.get(candidate.external_id)
            if first_line is not None:
                reason = f"first on line {first_line}"
                unlooked.result.problems.append(self._duplicate(candidate, reason))
                continue
            lines[candidate.external_id] = candidate.line
            unlooked.rows.append(candidate)
        return unlooked

    def _write_unlooked(self, unlooked: Unlooked, *, only: bool) -> BatchResult:
        statements, result, rows = self.statements, unlooked.result, unlooked.rows
        copy_text = unlooked.copy_text if self.expect_new else None
        if only or not rows:
            upserts = rows
        elif copy_text is not None and statements.copy(copy_text):
            result.created, upserts = len(rows), []
        else:
            self.expect_new = False
            found = statements.found({row.external_id for row in rows})
            new = [row for row in rows if row.external_id not in found]
            upserts = [row for row in rows if row.external_id in found]
            if new:
                if statements.copy(statements.copy_text(new)):
                    result.created = len(new)
                else:  # another transaction inserted some of them meanwhile
                    upserts = rows
        if upserts:
            created, updated, unwritten = statements.upsert_unlooked(upserts)
            result.created += created
            result.updated += updated
            lines = {row.external_id: row for row in upserts} if unwritten else {}
            for external_id in unwritten:
                where = "it appears earlier in the file"
                result.problems.append(self._duplicate(lines[external_id], where))
        self._mark_seen(unlooked.seen)
        return result

    def _mark_seen(self, ids: list[str]) -> None:
        if ids:
            self.statements.mark_seen(ids)

    def _look_up_and_write(self, batch: list[Candidate], *, copy_new: bool) -> BatchResult:
        statements = self.statements
        ids = {candidate.external_id for candidate in batch}
        merges = self.plan.integration_type != IntegrationType.INSERT
        existing = statements.existing(ids, with_data=merges and statements.merges_in_python)
        result = BatchResult()
        writes, seen = self._decide(batch, existing, result)
        integration_type = self.plan.integration_type
        if copy_new and integration_type != IntegrationType.UPDATE:
            new = [w for w in writes if w.is_new]
            if new and statements.copy(statements.copy_text(new)):
                result.created += len(new)
                writes = [w for w in writes if not w.is_new]
        if writes and integration_type == IntegrationType.INSERT:
            created = statements.insert(writes)
            result.created += created
            result.skipped += len(writes) - created  # inserted meanwhile by another file
        elif writes and integration_type == IntegrationType.UPDATE:
            updated = statements.update(writes)
            result.updated += updated
            result.skipped += len(writes) - updated  # deleted meanwhile
        elif writes:
            upserted = statements.upsert(writes)
            result.created += upserted.created
            result.updated += upserted.updated
        self._mark_seen(seen)
        return result

    def _decide(
        self, batch: list[Candidate], existing: dict[str, Existing], result: BatchResult
    ) -> tuple[list[Write], list[str]]:
        """(records to write, records to keep); duplicates and skips go to `result`. Runs for
        every row a lookup found: kept to lookups and branches."""
        claimed: dict[str, int] = {}  # identifier -> the line that wrote or kept it
        writes: list[Write] = []
        seen: list[str] = []
        token = self.token
        skips_found = self.plan.integration_type == IntegrationType.INSERT
        skips_missing = self.plan.integration_type == IntegrationType.UPDATE
        for candidate in batch:
            identifier, data = candidate.external_id, candidate.data
            found = existing.get(identifier)
            first_line = claimed.get(identifier)
            if first_line is not None or (found is not None and found.last_file_id == token):
                if data is not None:  # a failed row is counted already
                    where = f"first on line {first_line}" if first_line else ""
                    where = where or "it appears earlier in the file"
                    result.problems.append(self._duplicate(candidate, where))
            elif data is None:
                if found is not None:  # Sync: a failed row keeps its record from deletion
                    seen.append(identifier)
                    claimed[identifier] = candidate.line
            elif skips_found if found is not None else skips_missing:
                result.skipped += 1
            elif found is None and candidate.missing_required:
                fields = ", ".join(candidate.missing_required)
                reason = f"a new record needs the required field(s) {fields}, which the file "
                result.problems.append(self._problem(candidate, f"{reason}has no column for"))
            else:
                claimed[identifier] = candidate.line
                if found is not None and found.data is not None and isinstance(data, dict):
                    data = {**found.data, **data}  # merged here where the database cannot
                writes.append(Write(identifier, data, found is None))
        return writes, seen

    def _duplicate(self, row: Candidate, where: str) -> RowProblem:
        return self._problem(row, f"duplicate unique identifier {row.external_id!r} ({where})")

    def _problem(self, row: Candidate, reason: str) -> RowProblem:
        return RowProblem(row.line, self.plan.identifier.column, reason)
