"""The rows the parsers yield (a ParsedRow, a BadRow, or a PlainBlock of plain CSV lines) and
the DecompressionLimit a gzip file is read within."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ingest.types import ParsedRow


@dataclass(frozen=True)
class BadRow:
    """A row whose structure is broken: the writer counts it as a failed row (column "").

    `values` holds what could still be read from it (a CSV row with the wrong number of fields
    is zipped against the header), so a Sync can keep the record it names rather than delete it.
    """

    line: int
    reason: str
    values: dict[str, Any] = field(default_factory=dict)


Row = ParsedRow | BadRow


@dataclass(frozen=True)
class DecompressionLimit:
    """The most bytes a gzip file may decompress to, and why in words (shown if it does)."""

    max_bytes: int
    why: str = "the most Loadbay reads from one file"

    @classmethod
    def for_file(
        cls, compressed_bytes: int, *, ratio: int, floor: int, ceiling: int
    ) -> "DecompressionLimit":
        """`ratio` times the file's compressed size, at least `floor`, at most `ceiling`
        (ratio 0: the ceiling). A gzip bomb is far more compressed than any data."""
        by_size = max(floor, ratio * compressed_bytes)
        if not ratio or by_size >= ceiling:
            return cls(ceiling)
        return cls(
            by_size,
            f"the most Loadbay reads from a gzip file of {compressed_bytes:,} bytes: it reads "
            f"at most {ratio} times a file's compressed size (and at least {floor:,} bytes), "
            "so that a gzip bomb cannot hold up a worker. A file this compressible is rare; "
            "an administrator can raise INGEST_DECOMPRESSION_RATIO",
        )


@dataclass(frozen=True, slots=True)
class PlainBlock:
    """Consecutive lines of a CSV or TSV file that hold no quote character and end with \n or
    \r\n, each split at the delimiter: exactly what csv.reader makes of such lines, at a
    fraction of its cost per row. rows[k] is the line first_line + k; a blank line is [""].

    iter_rows(plain_blocks=True) yields these so that the writer can clean a run of rows in
    one call (see the writer); expanded() gives the rows iter_rows yields otherwise.
    """

    first_line: int
    header: tuple[str, ...]
    rows: list[list[str]]
    # Every value is printable ASCII without a backslash (and, as in any block, without a
    # quote): text that JSON and COPY take as it is, checked once for the whole block.
    clean: bool = False

    def row(self, offset: int) -> "Row | None":
        """The row of rows[offset] (None for a blank line)."""
        fields = self.rows[offset]
        if len(fields) == 1 and not fields[0]:
            return None  # without quotes, only a blank line splits into [""]
        return fields_row(self.first_line + offset, self.header, fields)

    def expanded(self) -> Iterator[Row]:
        for offset in range(len(self.rows)):
            row = self.row(offset)
            if row is not None:
                yield row


def fields_row(line: int, header: tuple[str, ...], fields: list[str]) -> Row:
    """The row of a CSV/TSV line split into `fields`: a BadRow if their count is not the
    header's."""
    values = dict(zip(header, fields, strict=False))
    if len(fields) != len(header):
        return BadRow(line, f"expected {len(header)} fields, found {len(fields)}", values)
    return ParsedRow(line, values)
