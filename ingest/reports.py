"""Reports a person can read: the error report written next to a failed file, and the
CSV export of a run."""

import csv
import io
import re
from collections.abc import Iterator

from ingest.models import Run, SourceFile
from ingest.s3.client import layout_for

REPORT_ERRORS_SHOWN = 1000


def error_report(source_file: SourceFile) -> str:
    connector = source_file.connector
    lines = [
        f"Loadbay could not ingest s3://{layout_for(connector).bucket}/{source_file.key}",
        "",
        f"Connector: {connector.name} (entity {connector.entity_type.name}, "
        f"{connector.get_integration_type_display()})",
        f"Run: {source_file.run_id}   File version (ETag): {source_file.etag}",
        "",
        f"Reason: {source_file.failure_reason}",
        "",
        "Nothing from this file was written."
        if not source_file.records_created and not source_file.records_updated
        else "",
    ]
    errors = list(source_file.row_errors.all()[:REPORT_ERRORS_SHOWN])
    if errors:
        lines += ["", f"Invalid rows ({source_file.records_failed} in all):", ""]
        lines += [f"  line {e.line}, column {e.column or '-'}: {e.reason}" for e in errors]
        if source_file.records_failed > len(errors):
            lines.append(f"  ... and {source_file.records_failed - len(errors)} more")
    lines += ["", "Fix the file and upload it again to the source directory to retry."]
    return "\n".join(lines) + "\n"


REPORT_HEADER = [
    "run",
    "file",
    "state",
    "outcome",
    "rows",
    "created",
    "updated",
    "deleted",
    "skipped",
    "failed_rows",
    "reason",
    "moved_to",
    "error_line",
    "error_column",
    "error_reason",
]


def run_report_rows(run: Run) -> Iterator[list[str]]:
    """The run's report: a line per file, then a line per bad row of that file."""
    yield REPORT_HEADER
    for f in run.files.order_by("id").iterator(chunk_size=500):
        base = [
            str(run.pk),
            f.key,
            f.state,
            f.outcome,
            str(f.rows_total),
            str(f.records_created),
            str(f.records_updated),
            str(f.records_deleted),
            str(f.records_skipped),
            str(f.records_failed),
            f.failure_reason or f.route_error,
            f.destination_key,
        ]
        yield [*base, "", "", ""]
        for error in f.row_errors.all().iterator(chunk_size=1000):
            yield [*base, str(error.line), error.column, error.reason]


# A spreadsheet runs a cell as a formula when it starts with = + - @, a tab or a CR. It may
# also split a cell where the file has none: a locale whose list separator is ";" (or a user's
# choice of tab or "|") splits "x;=1+2" into "x" and "=1+2" whatever the quoting. So a formula
# start is neutralised (a ' put before it, and before any spaces in front of it) at the start of
# a cell and after any character a spreadsheet may split at.
FORMULA_START = re.compile(r"(^|[,;|\t\r\n])(\s*)(?=[=+\-@\t\r])")
BOM = "\ufeff"  # spreadsheets decode the file as UTF-8 only with it


def safe_cell(value: str) -> str:
    """The cell as text no spreadsheet runs as a formula, in any locale."""
    return FORMULA_START.sub(r"\1'\2", value)


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    """CSV text for a spreadsheet: UTF-8 with a BOM, every cell quoted and made safe."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
