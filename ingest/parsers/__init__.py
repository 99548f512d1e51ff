"""Stream rows out of CSV, TSV, JSON-array and NDJSON files, gzip-compressed or not: the
parsers' entry point (iter_rows) and the rows it yields.

Memory stays constant whatever the file's size: bytes are read in chunks, decompressed and
decoded incrementally, and each row is yielded as soon as it is complete; nothing keeps the
rows read so far.

A problem with the whole file raises FileFailed (its message is shown to the user). A problem
with one row yields a BadRow instead of a ParsedRow, so the writer can count and report it and
go on: a CSV row with the wrong number of fields, an NDJSON line that is not a JSON object.

The package: `rows` (what is yielded), `streams` (bytes to text: chunks, gzip, UTF-8, lines),
`delimited` (CSV and TSV), `json_rows` (JSON arrays and NDJSON). Callers import from here.
"""

from collections.abc import Iterator
from typing import Any

from ingest.parsers.delimited import check_delimiter, csv_header, csv_items
from ingest.parsers.json_rows import json_array_rows, ndjson_rows
from ingest.parsers.rows import BadRow, DecompressionLimit, PlainBlock, Row
from ingest.parsers.streams import BinaryReader, line_runs, text_of
from ingest.types import FileFailed

__all__ = ["BadRow", "DecompressionLimit", "PlainBlock", "Row", "header_of", "iter_rows"]
DEFAULT_LIMIT = DecompressionLimit(10 * 1024**3)  # runs give each file its own (ingestion)


def iter_rows(
    stream: BinaryReader,
    *,
    file_format: str,
    delimiter: str = ",",
    key: str = "",
    decompression_limit: DecompressionLimit = DEFAULT_LIMIT,
    plain_blocks: bool = False,
) -> Iterator[Any]:
    """The file's rows, in order. `stream` is read in chunks and never whole. With
    `plain_blocks`, runs of plain CSV/TSV lines come as PlainBlocks instead of row by row.

    Raises FileFailed, while iterating, when the file as a whole cannot be read (an unusable
    format or delimiter at the first row): the writer, which iterates, turns it into the
    file's outcome.
    """
    items = _rows(stream, file_format, delimiter, key, decompression_limit)
    return items if plain_blocks else _expanded(items)


def header_of(
    stream: BinaryReader,
    *,
    file_format: str,
    delimiter: str = ",",
    key: str = "",
    decompression_limit: DecompressionLimit = DEFAULT_LIMIT,
) -> tuple[str, ...] | None:
    """A CSV or TSV file's column names, from its header row as iter_rows reads it (so a file
    of a header and no rows has them too); None for JSON and NDJSON, whose rows name their
    own. Raises FileFailed as iter_rows does."""
    if file_format not in ("csv", "tsv"):
        return None
    delimiter = _delimiter(file_format, delimiter)
    return csv_header(line_runs(text_of(stream, key=key, limit=decompression_limit)), delimiter)


def _delimiter(file_format: str, delimiter: str) -> str:
    delimiter = "\t" if file_format == "tsv" else (delimiter or ",")
    check_delimiter(delimiter)
    return delimiter


def _expanded(items: Iterator[Row | PlainBlock]) -> Iterator[Row]:
    for item in items:
        if isinstance(item, PlainBlock):
            yield from item.expanded()
        else:
            yield item


def _rows(
    stream: BinaryReader, file_format: str, delimiter: str, key: str, limit: DecompressionLimit
) -> Iterator[Row | PlainBlock]:
    if file_format in ("csv", "tsv"):
        delimiter = _delimiter(file_format, delimiter)
    elif file_format not in ("json", "ndjson"):
        raise FileFailed(f"unsupported file format {file_format!r}")
    text = text_of(stream, key=key, limit=limit)
    if file_format == "json":
        yield from json_array_rows(text)
    elif file_format == "ndjson":
        yield from ndjson_rows(line_runs(text))
    else:
        yield from csv_items(line_runs(text), delimiter)
