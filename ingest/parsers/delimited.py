"""CSV and TSV: runs of plain lines (no quote, no lone carriage return) split with str.split
into PlainBlocks; csv.reader reads every other line, and the lines a quoted value spans.

A differential test holds the two to the same rows (tests/ingest/parsers/test_delimited.py). A
row with the wrong number of fields, or a quote out of place, is a BadRow; a header that cannot
name the columns, or a quoted value that never ends, fails the file.
"""

import csv
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ingest.parsers.rows import BadRow, PlainBlock, Row, fields_row
from ingest.parsers.streams import MAX_FIELD_CHARS, blank_stretches, line_count, lines_of
from ingest.types import FileFailed

csv.field_size_limit(MAX_FIELD_CHARS)


def check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise FileFailed(
            f"the delimiter {delimiter!r} cannot be used; "
            "choose a single character other than a quote or a line break"
        )


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
        self._lines, self._next = lines_of(run), 0

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
            self.consumed += line_count(run[: len(run) - len(rest)])
            if rest:
                self.load(rest)

    def take_buffered(self) -> str:
        """The buffered lines as one run (they are taken off the feed)."""
        run = "".join(self._lines[self._next :])
        self._lines, self._next = [], 0
        return run


def csv_items(runs: Iterator[str], delimiter: str) -> Iterator[Row | PlainBlock]:
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
                yield fields_row(start, header, fields)


def csv_header(runs: Iterator[str], delimiter: str) -> tuple[str, ...]:
    """The column names of the header row, read as csv_items reads them (FileFailed if they
    cannot name the columns)."""
    feed = _LineFeed(runs)
    return _csv_header(csv.reader(feed, delimiter=delimiter, strict=True), feed)


def _plain_part(run: str) -> tuple[str, str]:
    """(the lines of `run` before the first that has a quote or a lone carriage return, the
    rest). Very long lines are left to csv.reader, which enforces the field size limit."""
    if len(run) > MAX_FIELD_CHARS:
        return "", run
    special = run.find('"')  # str.find and count: far faster than a regex over the run
    if "\r" in run and run.count("\r") != run.count("\r\n"):  # a lone \r somewhere
        found = _LONE_CR.search(run)
        assert found is not None  # there is one, counted above
        lone_cr = found.start()
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
    for start, end in blank_stretches(run):
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
