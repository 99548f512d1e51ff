"""Bytes to text: a stream read in chunks, gunzipped within its DecompressionLimit, decoded as
UTF-8, and cut into runs of whole lines; long stretches of blank lines are found at C speed.

Nothing is held but the chunk at hand (and a line cut by a chunk's end), so memory stays
constant whatever the file's size. A file that cannot be read as text raises FileFailed.
"""

import codecs
import itertools
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from ingest.parsers.rows import DecompressionLimit
from ingest.types import FileFailed

CHUNK_BYTES = 256 * 1024
MAX_FIELD_CHARS = 16 * 1024**2
MAX_LINE_CHARS = 2 * MAX_FIELD_CHARS  # also the largest JSON array element
GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 47  # zlib: detect a gzip or zlib header automatically
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
TRUNCATED_GZIP = (
    "the gzip data is truncated: the file ends before the compressed data does "
    "(was the upload cut short?)"
)

# Stretches of at least this many blank lines are stepped over at once rather than line by
# line: a file of blank lines (a gzip of them is a thousand times smaller) is then read about
# as fast as it decompresses.
MIN_BLANK_STRETCH = 16


class BinaryReader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def text_of(stream: BinaryReader, *, key: str, limit: DecompressionLimit) -> Iterator[str]:
    """The stream's text, a chunk at a time (gunzipped first if it is gzip data, or if `key`
    ends with .gz)."""
    return _decoded(_maybe_gunzipped(_read_chunks(stream), key=key, limit=limit))


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
        raise FileFailed(TRUNCATED_GZIP)


def gunzip_head(data: bytes, max_bytes: int) -> tuple[bytes, bool]:
    """The decompressed start of gzip data that may be cut short (the first bytes of a file
    read for a sample): at most `max_bytes` of it, and whether that is all the data holds.
    Invalid gzip data raises FileFailed, as when a run reads the file."""
    inflater = zlib.decompressobj(wbits=GZIP_WBITS)
    output: list[bytes] = []
    produced = 0
    pending = data
    while produced < max_bytes:
        if inflater.eof:
            pending = inflater.unused_data
            if not pending.strip(b"\0"):
                return b"".join(output), True
            inflater = zlib.decompressobj(wbits=GZIP_WBITS)
        piece = _inflate(inflater, pending, max_bytes - produced)
        output.append(piece)
        produced += len(piece)
        pending = inflater.unconsumed_tail
        if not piece and not pending and not inflater.eof:
            return b"".join(output), False  # the data ends inside the compressed stream
    ended = inflater.eof and not inflater.unused_data.strip(b"\0")
    return b"".join(output), ended


def _inflate(inflater: Any, data: bytes, max_length: int = CHUNK_BYTES) -> bytes:
    try:
        inflated: bytes = inflater.decompress(data, max_length)
        return inflated
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


def line_runs(texts: Iterable[str]) -> Iterator[str]:
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
            lines_done += line_count(run)
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


def line_count(run: str) -> int:
    """Line endings in `run`: \n, \r\n and a lone \r each end a line."""
    newlines = run.count("\n")
    return newlines + run.count("\r") - run.count("\r\n") if "\r" in run else newlines


def lines_of(run: str) -> list[str]:
    """A run's lines with their endings, as open(newline='') gives them."""
    lines = _split_lines(run)
    if not lines[-1]:
        lines.pop()
    return lines


_BLANKS = "\n" * MIN_BLANK_STRETCH
_NEWLINES = re.compile("\n+")


def blank_stretches(text: str) -> Iterator[tuple[int, int]]:
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
        newlines = _NEWLINES.match(text, start)
        assert newlines is not None  # start is the first of a stretch's newlines
        at = newlines.end()
        yield start, at
