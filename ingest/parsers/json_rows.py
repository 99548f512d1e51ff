"""JSON: an array of objects read element by element (an element cut by a chunk's end is read
on when the next arrives), and NDJSON a line at a time. An element or line that is not an
object, or nests too deeply to decode, is a BadRow; JSON that breaks off fails the file.
"""

import json
import re
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from ingest.parsers.rows import BadRow, Row
from ingest.parsers.streams import MAX_LINE_CHARS, blank_stretches, lines_of
from ingest.types import FileFailed, ParsedRow

_DECODER = json.JSONDecoder(parse_float=Decimal)

# --- NDJSON ---------------------------------------------------------------------------------


def ndjson_rows(runs: Iterable[str]) -> Iterator[Row]:
    """Rows of the runs' lines; long stretches of blank lines are only counted."""
    done = 0  # lines before the piece being read
    for run in runs:
        if "\r" in run:
            run = run.replace("\r\n", "\n")
        at = 0
        for start, end in (*blank_stretches(run), (len(run), len(run))):
            lines = lines_of(run[at:start]) if start > at else []
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
            end = _match_end(_SCALAR, text, self.pos)
            return end if end < len(text) else None
        while self.pos < len(text):
            if self.in_string:
                self.pos = _match_end(_STRING_BODY, text, self.pos)
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


def json_array_rows(texts: Iterator[str]) -> Iterator[Row]:
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
    return _match_end(_SCALAR, buffer.text, end) < len(buffer.text)


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a match of a pattern that matches the empty string too ends."""
    match = pattern.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


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
