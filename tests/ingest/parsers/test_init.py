"""iter_rows, the parsers' entry point (ingest/parsers/__init__.py): the format chosen (TSV by
tabs whatever the delimiter), an unusable format or delimiter found when the rows are read, and
memory that stays small whatever the file's size."""

import gzip
import io
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from ingest.parsers import header_of, iter_rows
from ingest.parsers.streams import CHUNK_BYTES
from ingest.types import FileFailed
from tests.support.parsing import Generated, failure, parse


def test_tsv_uses_tabs_whatever_the_delimiter_setting() -> None:
    rows = parse("id\tname\n1\tAda, Countess\n", "tsv", delimiter=",")
    assert rows[0].values == {"id": "1", "name": "Ada, Countess"}


def test_unsupported_format_fails() -> None:
    assert failure("id\n", "xml") == "unsupported file format 'xml'"


def test_an_unusable_format_or_delimiter_fails_when_the_rows_are_read() -> None:
    """Not before: the writer, which reads the rows, makes every FileFailed the file's
    outcome."""
    rows = iter_rows(io.BytesIO(b"id\n1\n"), file_format="xml")
    with pytest.raises(FileFailed, match="unsupported file format 'xml'"):
        next(rows)
    rows = iter_rows(io.BytesIO(b"id\n1\n"), file_format="csv", delimiter='"')
    with pytest.raises(FileFailed, match="cannot be used"):
        next(rows)


# --- constant memory ------------------------------------------------------------------------


MEMORY_BOUND = 5 * 1024 * 1024


def in_blocks(rows: int, row: Any, block: int = 1000) -> Iterator[bytes]:
    for first in range(0, rows, block):
        yield b"".join(row(number) for number in range(first, min(first + block, rows)))


def generated_csv(rows: int) -> Iterator[bytes]:
    yield b"profile_id,first_name,last_name,email,note\n"
    yield from in_blocks(
        rows, lambda n: b'p%d,First%d,Last%d,u%d@example.com,"a, ""quoted""\nnote"\n' % ((n,) * 4)
    )


def generated_json(rows: int) -> Iterator[bytes]:
    yield b'[\n{"first": true}'
    yield from in_blocks(
        rows - 1,
        lambda n: b',{"profile_id": "p%d", "email": "u%d@example.com", "n": %d}\n' % ((n,) * 3),
    )
    yield b"]\n"


def generated_ndjson(rows: int) -> Iterator[bytes]:
    yield from in_blocks(
        rows, lambda n: b'{"profile_id": "p%d", "email": "u%d@example.com"}\n' % (n, n)
    )


def counted(parts: Iterator[bytes], size: list[int]) -> Iterator[bytes]:
    for part in parts:
        size[0] += len(part)
        yield part


def gzipped(parts: Iterator[bytes]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as compressor:
        for part in parts:
            compressor.write(part)
            if buffer.tell():
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


@pytest.mark.parametrize(
    ("file_format", "make", "compress"),
    [
        ("csv", generated_csv, False),
        ("csv", generated_csv, True),
        ("json", generated_json, False),
        ("ndjson", generated_ndjson, False),
    ],
)
def test_memory_stays_small_whatever_the_file_size(
    file_format: str, make: Any, compress: bool
) -> None:
    rows = 200_000
    size = [0]
    parts = counted(make(rows), size)
    stream = Generated(gzipped(parts) if compress else parts)
    tracemalloc.start()
    try:
        key = "big.gz" if compress else "big"
        count = sum(1 for _ in iter_rows(stream, file_format=file_format, key=key))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    assert stream.largest_read <= CHUNK_BYTES
    assert size[0] > 2 * MEMORY_BOUND  # holding the file would break the bound
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"


# --- header_of ------------------------------------------------------------------------------


def test_header_of_names_the_columns_as_iter_rows_reads_them() -> None:
    text = b'\n\n"id";name ;"note, long"\n1;Ada;x\n'
    header = header_of(io.BytesIO(text), file_format="csv", delimiter=";")
    assert header == ("id", "name", "note, long")
    (row,) = iter_rows(io.BytesIO(text), file_format="csv", delimiter=";")
    assert tuple(row.values) == header


def test_header_of_reads_a_file_without_rows_tsv_and_gzip() -> None:
    assert header_of(io.BytesIO(b"a\tb\n"), file_format="tsv") == ("a", "b")
    packed = io.BytesIO(gzip.compress(b"a,b\n"))
    assert header_of(packed, file_format="csv", key="f.csv.gz") == ("a", "b")


def test_header_of_json_is_none_as_its_rows_name_their_own() -> None:
    assert header_of(io.BytesIO(b"[]"), file_format="json") is None
    assert header_of(io.BytesIO(b""), file_format="ndjson") is None


def test_header_of_a_header_that_cannot_name_the_columns_fails_as_iter_rows_does() -> None:
    with pytest.raises(FileFailed, match="repeats the column name"):
        header_of(io.BytesIO(b"a,a\n1,2\n"), file_format="csv")
    with pytest.raises(FileFailed, match="the file has no header row"):
        header_of(io.BytesIO(b"\n\n"), file_format="csv")
