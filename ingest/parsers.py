"""Stream rows out of CSV, TSV, JSON-array and NDJSON files, gzip-compressed or not.

Memory stays constant whatever the file's size: bytes are read in chunks, decompressed and
decoded incrementally, and each row is yielded as soon as it is complete; nothing keeps the
rows read so far.

A problem with the whole file raises FileFailed (its message is shown to the user). A problem
with one row yields a BadRow instead of a ParsedRow, so the writer can count and report it and
go on: a CSV row with the wrong number of fields, an NDJSON line that is not a JSON object.
"""

import codecs
import csv
import itertools
import json
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from ingest.types import FileFailed, ParsedRow

CHUNK_BYTES = 256 * 1024
MAX_FIELD_CHARS = 16 * 1024**2
MAX_LINE_CHARS = 2 * MAX_FIELD_CHARS  # also the largest JSON array element
GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 47  # zlib: detect a gzip or zlib header automatically
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# Stretches of at least this many blank lines are stepped over at once rather than line by
# line: a file of blank lines (a gzip of them is a thousand times smaller) is then read about
# as fast as it decompresses.
MIN_BLANK_STRETCH = 16

csv.field_size_limit(MAX_FIELD_CHARS)


class BinaryReader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


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
    one call (see ingest.writer); expanded() gives the rows iter_rows yields otherwise.
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
        return _csv_row(self.first_line + offset, self.header, fields)

    def expanded(self) -> Iterator[Row]:
        for offset in range(len(self.rows)):
            row = self.row(offset)
            if row is not None:
                yield row


def iter_rows(
    stream: BinaryReader,
    *,
    file_format: str,
    delimiter: str = ",",
    key: str = "",
    decompression_limit: DecompressionLimit = DecompressionLimit(10 * 1024**3),
    plain_blocks: bool = False,
) -> Iterator[Any]:
    """The file's rows, in order. `stream` is read in chunks and never whole. With
    `plain_blocks`, runs of plain CSV/TSV lines come as PlainBlocks instead of row by row.

    Raises FileFailed when the file as a whole cannot be read: at once for an unusable format
    or delimiter, otherwise while iterating.
    """
    if file_format in ("csv", "tsv"):
        delimiter = "\t" if file_format == "tsv" else (delimiter or ",")
        _check_delimiter(delimiter)
    elif file_format not in ("json", "ndjson"):
        raise FileFailed(f"unsupported file format {file_format!r}")
    items = _rows(stream, file_format, delimiter, key, decompression_limit)
    return items if plain_blocks else _expanded(items)


def _expanded(items: Iterator[Row | PlainBlock]) -> Iterator[Row]:
    for item in items:
        if item.__class__ is PlainBlock:
            yield from item.expanded()  # type: ignore[union-attr]
        else:
            yield item  # type: ignore[misc]


def _rows(
    stream: BinaryReader, file_format: str, delimiter: str, key: str, limit: DecompressionLimit
) -> Iterator[Row | PlainBlock]:
    data = _maybe_gunzipped(_read_chunks(stream), key=key, limit=limit)
    text = _decoded(data)
    if file_format == "json":
        yield from _json_array_rows(text)
    elif file_format == "ndjson":
        yield from _ndjson_rows(_line_runs(text))
    else:
        yield from _csv_items(_line_runs(text), delimiter)


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise FileFailed(
            f"the delimiter {delimiter!r} cannot be used; "
            "choose a single character other than a quote or a line break"
        )


# --- bytes: reading and gzip ----------------------------------------------------------------


def _read_chunks(stream: BinaryReader) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        yield chunk


def _first_bytes(chunks: Iterator[bytes], at_least: int) -> tuple[bytes, Iterator[bytes]]:
    """At least `at_least` leading bytes (fewer only if the file is shorter), and the rest."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= at_least:
            break
    return head, chunks


def _maybe_gunzipped(
    chunks: Iterator[bytes], *, key: str, limit: DecompressionLimit
) -> Iterator[bytes]:
    head, rest = _first_bytes(chunks, len(GZIP_MAGIC))
    if not head:
        raise FileFailed("the file is empty")
    chunks = itertools.chain([head], rest)
    if head.startswith(GZIP_MAGIC) or key.lower().endswith(".gz"):
        return _gunzip(chunks, limit)
    return chunks


def _gunzip(chunks: Iterable[bytes], limit: DecompressionLimit) -> Iterator[bytes]:
    """Decompressed bytes, at most CHUNK_BYTES at a time (one small chunk of a gzip bomb can
    expand to gigabytes); concatenated gzip members are read one after another."""
    inflater = zlib.decompressobj(wbits=GZIP_WBITS)
    produced = 0
    for chunk in chunks:
        pending = chunk
        while True:
            if inflater.eof:
                if not pending.strip(b"\0"):
                    break  # nothing more, or the zero padding gzip(1) allows after a member
                inflater = zlib.decompressobj(wbits=GZIP_WBITS)
            output = _inflate(inflater, pending)
            produced += len(output)
            if produced > limit.max_bytes:
                raise FileFailed(
                    f"the file decompresses to more than {limit.max_bytes:,} bytes, {limit.why}"
                )
            if output:
                yield output
            pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            # A full output buffer may leave decompressed bytes inside zlib: ask again.
            if not pending and not inflater.eof and len(output) < CHUNK_BYTES:
                break
    if not inflater.eof:
        raise FileFailed(
            "the gzip data is truncated: the file ends before the compressed data does "
            "(was the upload cut short?)"
        )


def _inflate(inflater: Any, data: bytes) -> bytes:
    try:
        return inflater.decompress(data, CHUNK_BYTES)
    except zlib.error as exc:
        raise FileFailed(f"the file is not valid gzip data ({exc})") from None


# --- text: UTF-8 decoding and physical lines ------------------------------------------------


def _decoded(chunks: Iterator[bytes]) -> Iterator[str]:
    """UTF-8 text (a leading BOM dropped); invalid bytes fail the file with their position."""
    head, rest = _first_bytes(chunks, 4)
    if not head:
        raise FileFailed("the file is empty")
    _reject_utf16(head)
    skipped = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = skipped  # bytes of the file before the chunk being decoded
    line = 1  # the line the chunk being decoded starts on
    for chunk in itertools.chain([head[skipped:]], rest):
        buffered = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc, offset - buffered, line) from None
        offset += len(chunk)
        line += text.count("\n")
        if text:
            yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc, offset - len(exc.object), line) from None


def _reject_utf16(head: bytes) -> None:
    # A NUL next to an ASCII byte at the very start is UTF-16 without a BOM.
    looks_utf16 = len(head) >= 2 and (head[0] == 0) != (head[1] == 0)
    if head.startswith(UTF16_BOMS) or looks_utf16:
        raise FileFailed("the file is UTF-16 text; save it as UTF-8")


def _not_utf8(exc: UnicodeDecodeError, object_offset: int, line: int) -> FileFailed:
    position = object_offset + exc.start
    line += exc.object[: exc.start].count(b"\n")
    bad = exc.object[exc.start]
    return FileFailed(
        f"the file is not UTF-8 text: byte 0x{bad:02X} on line {line} (byte offset "
        f"{position:,}) is not valid UTF-8; the file may be Latin-1 or Windows-1252 text. "
        "Save it as UTF-8."
    )


_SPLIT_AFTER_NEWLINE = re.compile(r"(?<=\n)|(?<=\r)(?!\n)")


def _split_lines(text: str) -> list[str]:
    """Split after each \\n, \\r\\n or lone \\r; the last piece is an unfinished line."""
    if "\r" in text:
        return _SPLIT_AFTER_NEWLINE.split(text)
    pieces = text.split("\n")
    last = pieces.pop()
    return [*(piece + "\n" for piece in pieces), last]


def _line_runs(texts: Iterable[str]) -> Iterator[str]:
    """The text in runs of whole lines: each run ends with a line ending, but the last may
    not (a file's last line without one). A line cut by the end of a chunk goes whole into
    the next run."""
    partial: list[str] = []  # the start of a line that continues in the next chunk
    partial_size = 0
    carry = ""  # a trailing \r that may be the start of \r\n
    lines_done = 0
    for chunk in texts:
        text = carry + chunk
        carry = ""
        if text.endswith("\r"):
            text, carry = text[:-1], "\r"
        end = max(text.rfind("\n"), text.rfind("\r")) + 1
        if end:
            run = text[:end]
            if partial:
                run = "".join(partial) + run
                partial, partial_size = [], 0
            lines_done += _line_count(run)
            yield run
        if end < len(text):
            partial.append(text[end:])
            partial_size += len(text) - end
            if partial_size > MAX_LINE_CHARS:
                raise FileFailed(
                    f"line {lines_done + 1} is longer than {MAX_LINE_CHARS:,} characters"
                )
    tail = "".join(partial) + carry
    if tail:
        yield tail


def _line_count(run: str) -> int:
    """Line endings in `run`: \n, \r\n and a lone \r each end a line."""
    newlines = run.count("\n")
    return newlines + run.count("\r") - run.count("\r\n") if "\r" in run else newlines


def _lines_of(run: str) -> list[str]:
    """A run's lines with their endings, as open(newline='') gives them."""
    lines = _split_lines(run)
    if not lines[-1]:
        lines.pop()
    return lines


_BLANKS = "\n" * MIN_BLANK_STRETCH
_NEWLINES = re.compile("\n+")


def _blank_stretches(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each stretch of MIN_BLANK_STRETCH or more blank lines in `text`, which
    starts at the start of a line and ends its lines with \n only: text[start:end] is the
    stretch's line endings. Found with str.find and one regex match each, at C speed."""
    at = 0  # the start of a line that is not blank (or the text's end)
    while True:
        if text.startswith(_BLANKS, at):
            start = at
        else:
            start = text.find("\n" + _BLANKS, at) + 1  # the end of a line, then the stretch
            if not start:
                return
        at = _NEWLINES.match(text, start).end()  # type: ignore[union-attr]
        yield start, at


# --- CSV and TSV ----------------------------------------------------------------------------


class _LineFeed:
    """The lines csv.reader reads, a run of lines at a time. `consumed` counts the lines of
    the file read so far, by csv.reader or as PlainBlocks: the next row starts on line
    consumed + 1."""

    def __init__(self, runs: Iterator[str]) -> None:
        self._runs = runs
        self._lines: list[str] = []
        self._next = 0
        self.consumed = 0

    def __iter__(self) -> "_LineFeed":
        return self

    def __next__(self) -> str:
        # Past the buffered lines only when a quoted value goes on: take the next run.
        if self._next >= len(self._lines):
            run = next(self._runs, None)
            if run is None:
                raise StopIteration
            self.load(run)
        line = self._lines[self._next]
        self._next += 1
        self.consumed += 1
        return line

    @property
    def buffered(self) -> bool:
        return self._next < len(self._lines)

    def next_run(self) -> str | None:
        return next(self._runs, None)

    def load(self, run: str) -> None:
        self._lines, self._next = _lines_of(run), 0

    def skip_buffered_blank_lines(self) -> None:
        """Step over the blank lines at the feed's position, which must be between rows (a
        blank line there is no row, and csv.reader would read them one by one)."""
        lines, at = self._lines, self._next
        while at < len(lines) and lines[at] in _LINE_ENDINGS:
            at += 1
        self.consumed += at - self._next
        self._next = at

    def skip_blank_lines(self) -> None:
        """The same, going on into the next runs; a run of blank lines is skipped whole."""
        self.skip_buffered_blank_lines()
        while not self.buffered:
            run = self.next_run()
            if run is None:
                return
            rest = run.lstrip("\r\n")
            self.consumed += _line_count(run[: len(run) - len(rest)])
            if rest:
                self.load(rest)

    def take_buffered(self) -> str:
        """The buffered lines as one run (they are taken off the feed)."""
        run = "".join(self._lines[self._next :])
        self._lines, self._next = [], 0
        return run


def _csv_items(runs: Iterator[str], delimiter: str) -> Iterator[Row | PlainBlock]:
    """Rows, and PlainBlocks for the lines before the first quote or lone carriage return of
    each run; csv.reader reads the others, and the lines a quoted value spans."""
    feed = _LineFeed(runs)
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    header = _csv_header(reader, feed)
    while True:
        run = feed.take_buffered() if feed.buffered else feed.next_run()
        if run is None:
            return
        plain, rest = _plain_part(run)
        if plain:
            yield from _plain_blocks(plain, feed, header, delimiter)
        if not rest:
            continue
        feed.load(rest)
        while feed.buffered:  # a row at a time, until the run's lines are read
            feed.skip_buffered_blank_lines()
            if not feed.buffered:
                break
            start = feed.consumed + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield _malformed_csv_row(exc, start)
                continue
            if fields:  # not a blank line
                yield _csv_row(start, header, fields)


def _plain_part(run: str) -> tuple[str, str]:
    """(the lines of `run` before the first that has a quote or a lone carriage return, the
    rest). Very long lines are left to csv.reader, which enforces the field size limit."""
    if len(run) > MAX_FIELD_CHARS:
        return "", run
    special = run.find('"')  # str.find and count: far faster than a regex over the run
    if "\r" in run and run.count("\r") != run.count("\r\n"):  # a lone \r somewhere
        lone_cr = _LONE_CR.search(run).start()  # type: ignore[union-attr]
        special = lone_cr if special < 0 else min(special, lone_cr)
    if special < 0:
        return run, ""
    cut = run.rfind("\n", 0, special) + 1
    return run[:cut], run[cut:]


_LONE_CR = re.compile("\r(?!\n)")
_LINE_ENDINGS = frozenset(("\n", "\r\n", "\r"))


def _plain_blocks(
    run: str, feed: _LineFeed, header: tuple[str, ...], delimiter: str
) -> Iterator[PlainBlock]:
    """The run's PlainBlocks; long stretches of blank lines between them are only counted."""
    if "\r" in run:
        run = run.replace("\r\n", "\n")
    at = 0
    for start, end in _blank_stretches(run):
        if start > at:
            yield _plain_block(run[at:start], feed, header, delimiter)
        feed.consumed += end - start
        at = end
    if at < len(run):
        yield _plain_block(run[at:] if at else run, feed, header, delimiter)


def _plain_block(run: str, feed: _LineFeed, header: tuple[str, ...], delimiter: str) -> PlainBlock:
    """A block of `run`'s lines, which end with \n only."""
    lines = run.split("\n")
    if not lines[-1]:
        lines.pop()  # the run ends with a line ending
    rows = [line.split(delimiter) for line in lines]
    block = PlainBlock(feed.consumed + 1, header, rows, _is_clean(run, delimiter))
    feed.consumed += len(lines)
    return block


# Printable ASCII but the backslash: what may remain of a clean run's values.
_CLEAN_BYTES = bytes(code for code in range(0x20, 0x7F) if code != 0x5C)


def _is_clean(run: str, delimiter: str) -> bool:
    """Whether the run's values are all printable ASCII without a backslash: bytes.translate
    deletes the allowed bytes in one pass, and nothing must be left."""
    if not run.isascii():  # O(1): CPython knows whether a string is ASCII
        return False
    allowed = _CLEAN_BYTES + b"\n" + delimiter.encode()
    return not run.encode("ascii").translate(None, allowed)


def _csv_row(line: int, header: tuple[str, ...], fields: list[str]) -> Row:
    values = dict(zip(header, fields, strict=False))
    if len(fields) != len(header):
        return BadRow(line, f"expected {len(header)} fields, found {len(fields)}", values)
    return ParsedRow(line, values)


def _csv_header(reader: Any, feed: _LineFeed) -> tuple[str, ...]:
    fields: list[str] = []
    while not fields:
        feed.skip_blank_lines()
        start = feed.consumed + 1
        try:
            fields = next(reader)
        except StopIteration:
            raise FileFailed("the file has no header row") from None
        except csv.Error as exc:
            reason = _malformed_csv_row(exc, start).reason
            raise FileFailed(f"the header row is malformed: {reason}") from None
    names = [name.strip() for name in fields]
    for position, name in enumerate(names, start=1):
        if not name:
            raise FileFailed(
                f"column {position} of the header row has no name; every column needs one"
            )
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        listed = ", ".join(repr(name) for name in repeated)
        raise FileFailed(
            f"the header row repeats the column name(s) {listed}; names must be unique"
        )
    return tuple(names)


def _malformed_csv_row(exc: csv.Error, start: int) -> BadRow:
    """A row-level quoting problem; the ones that make the rest unreadable fail the file."""
    message = str(exc)
    if "unexpected end of data" in message:
        raise FileFailed(
            f"unterminated quoted field in the row starting on line {start}: "
            'a " opens a value that is never closed'
        )
    if "field larger than field limit" in message:
        raise FileFailed(
            f"the row starting on line {start} has a value longer than "
            f"{MAX_FIELD_CHARS:,} characters"
        )
    if "expected after" in message:
        return BadRow(
            start,
            'a quoted value must be followed by the delimiter or the end of the line; write a " '
            'inside a quoted value as ""',
        )
    return BadRow(start, f"malformed row: {message}")


# --- NDJSON ---------------------------------------------------------------------------------

_DECODER = json.JSONDecoder(parse_float=Decimal)


def _ndjson_rows(runs: Iterable[str]) -> Iterator[Row]:
    """Rows of the runs' lines; long stretches of blank lines are only counted."""
    done = 0  # lines before the piece being read
    for run in runs:
        if "\r" in run:
            run = run.replace("\r\n", "\n")
        at = 0
        for start, end in (*_blank_stretches(run), (len(run), len(run))):
            lines = _lines_of(run[at:start]) if start > at else []
            yield from _ndjson_lines(lines, first=done + 1)
            done += len(lines) + end - start
            at = end


def _ndjson_lines(lines: list[str], *, first: int) -> Iterator[Row]:
    for number, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        try:
            value = _DECODER.decode(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield BadRow(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except RecursionError:
            yield BadRow(number, f"the line {_too_deep()}")
            continue
        if isinstance(value, dict):
            yield ParsedRow(number, value)
        else:
            yield BadRow(number, f"the line holds {_describe(value)}, not a JSON object")


def _too_deep() -> str:
    # The decoder recurses once per level, up to the interpreter's limit (less what the
    # stack holds already): the depth it gave up at is about, not exactly, this.
    return (
        "nests arrays or objects too deeply to be read (more than about "
        f"{sys.getrecursionlimit():,} levels inside one another); a record is one object of "
        "plain values"
    )


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


# --- JSON array -----------------------------------------------------------------------------


class _TextBuffer:
    """The unconsumed text of a stream, refilled chunk by chunk; remembers where it is."""

    def __init__(self, texts: Iterator[str]) -> None:
        self._texts = texts
        self.text = ""
        self.pos = 0
        self.eof = False
        self._dropped_lines = 0  # complete lines dropped from the front of `text`
        self._dropped_bytes = 0
        self._dropped_column = 0  # characters of the current line dropped

    def more(self) -> bool:
        """Append the next chunk (dropping consumed text first); False at the end."""
        if self.eof:
            return False
        chunk = next(self._texts, None)
        if chunk is None:
            self.eof = True
            return False
        self._drop_consumed()
        self.text += chunk
        return True

    def _drop_consumed(self) -> None:
        consumed = self.text[: self.pos]
        newlines = consumed.count("\n")
        self._dropped_lines += newlines
        if newlines:
            self._dropped_column = len(consumed) - consumed.rfind("\n") - 1
        else:
            self._dropped_column += len(consumed)
        self._dropped_bytes += len(consumed.encode("utf-8"))
        self.text = self.text[self.pos :]
        self.pos = 0

    def skip_whitespace(self) -> str:
        """The next non-whitespace character (not consumed), or "" at the end."""
        while True:
            match = _NON_WHITESPACE.search(self.text, self.pos)
            if match:
                self.pos = match.start()
                return match.group()
            self.pos = len(self.text)
            if not self.more():
                return ""

    def where(self, pos: int) -> str:
        before = self.text[:pos]
        newlines = before.count("\n")
        line = self._dropped_lines + newlines + 1
        if newlines:
            column = len(before) - before.rfind("\n")
        else:
            column = self._dropped_column + len(before) + 1
        offset = self._dropped_bytes + len(before.encode("utf-8"))
        return f"line {line}, column {column} (byte offset {offset:,})"


_NON_WHITESPACE = re.compile(r"[^ \t\n\r]")
_STRUCTURAL = re.compile(r'[\[\]{}"]')
_STRING_BODY = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_SCALAR = re.compile(r"[^,\]\s]*")


class _ValueEnd:
    """Finds where the JSON value starting at `start` ends, resumably as text is appended."""

    def __init__(self, start: int) -> None:
        self.pos = start
        self.depth = 0
        self.in_string = False

    def find(self, text: str) -> int | None:
        if self.depth == 0 and not self.in_string and text[self.pos] not in '[{"':
            end = _SCALAR.match(text, self.pos).end()  # type: ignore[union-attr]
            return end if end < len(text) else None
        while self.pos < len(text):
            if self.in_string:
                self.pos = _STRING_BODY.match(text, self.pos).end()  # type: ignore[union-attr]
                if self.pos >= len(text) or text[self.pos] == "\\":
                    return None  # the string (or an escape) continues in the next chunk
                self.pos += 1
                self.in_string = False
            else:
                match = _STRUCTURAL.search(text, self.pos)
                if match is None:
                    self.pos = len(text)
                    return None
                self.pos = match.end()
                char = match.group()
                if char == '"':
                    self.in_string = True
                    continue
                self.depth += 1 if char in "[{" else -1
            if self.depth <= 0:
                return self.pos
        return None


def _json_array_rows(texts: Iterator[str]) -> Iterator[Row]:
    buffer = _TextBuffer(texts)
    _open_array(buffer)
    index = 0
    if buffer.skip_whitespace() == "]":
        buffer.pos += 1
    else:
        while True:
            index += 1
            try:
                value = _next_value(buffer, index)
            except _TooDeep:
                yield BadRow(index, f"element {index} {_too_deep()}")
            else:
                if isinstance(value, dict):
                    yield ParsedRow(index, value)
                else:
                    yield BadRow(index, f"element {index} is {_describe(value)}, not an object")
            if not _more_elements(buffer, index):
                break
    if buffer.skip_whitespace():
        raise FileFailed(
            f"unexpected text after the end of the array at {buffer.where(buffer.pos)}"
        )


def _open_array(buffer: _TextBuffer) -> None:
    first = buffer.skip_whitespace()
    if first == "[":
        buffer.pos += 1
        return
    if first == "{":
        raise FileFailed(
            "the file holds a JSON object, not an array of objects; put the objects in "
            "[ ... ] separated by commas, or choose the NDJSON format for one object per line"
        )
    if not first:
        raise FileFailed("the file holds no JSON, only whitespace")
    raise FileFailed(f"the file must hold a JSON array of objects; it starts with {first!r}")


def _more_elements(buffer: _TextBuffer, index: int) -> bool:
    after = buffer.skip_whitespace()
    buffer.pos += 1
    if after == ",":
        return True
    if after == "]":
        return False
    if not after:
        raise FileFailed(f"the file ends after element {index}, before the array is closed")
    raise FileFailed(f"expected ',' or ']' after element {index} at {buffer.where(buffer.pos - 1)}")


class _TooDeep(Exception):
    """An element nests deeper than the decoder recurses; the buffer is past its end."""


def _next_value(buffer: _TextBuffer, index: int) -> Any:
    """Decode the array element at the buffer's position, reading more text as needed."""
    if not buffer.skip_whitespace():
        raise FileFailed(f"the file ends before element {index}, inside the array")
    try:
        value, end = _DECODER.raw_decode(buffer.text, buffer.pos)
    except json.JSONDecodeError:
        pass
    except RecursionError:
        _skip_value(buffer, index)
    else:
        if _ends_in_buffer(buffer, value, end):
            buffer.pos = end
            return value
    # The element is cut by the end of the buffer, or invalid: find its end, then decode once.
    _read_to_value_end(buffer, index)
    try:
        value, buffer.pos = _DECODER.raw_decode(buffer.text, buffer.pos)
    except json.JSONDecodeError as exc:
        raise FileFailed(
            f"invalid JSON in element {index} at {buffer.where(exc.pos)}: {exc.msg}"
        ) from None
    except RecursionError:
        _skip_value(buffer, index)
    return value


def _skip_value(buffer: _TextBuffer, index: int) -> None:
    """Move past an element too deep to decode (its end is found without recursion)."""
    end = _read_to_value_end(buffer, index)
    if end is None:
        raise FileFailed(f"the file ends inside element {index}, before the array is closed")
    buffer.pos = end
    raise _TooDeep


def _ends_in_buffer(buffer: _TextBuffer, value: Any, end: int) -> bool:
    """Whether a decoded value is whole: a number cut by the buffer's end ("12" of "12.5")
    decodes too."""
    if isinstance(value, dict | list | str) or buffer.eof:
        return True
    return _SCALAR.match(buffer.text, end).end() < len(buffer.text)  # type: ignore[union-attr]


def _read_to_value_end(buffer: _TextBuffer, index: int) -> int | None:
    """Read until the buffer holds the whole element at its position; where it ends (None if
    the file ends first)."""
    start = buffer.pos
    value_end = _ValueEnd(start)
    while (end := value_end.find(buffer.text)) is None:
        if value_end.pos - start > MAX_LINE_CHARS:
            raise FileFailed(f"element {index} is longer than {MAX_LINE_CHARS:,} characters")
        before = buffer.pos
        if not buffer.more():
            return None  # decoding will report where the JSON breaks off
        # more() drops consumed text, so positions move back by what was dropped
        shift = before - buffer.pos
        start -= shift
        value_end.pos -= shift
    return end
