"""Feeding the parsers: whole files, streams that trickle a few bytes a read or that make
their bytes as they are read, and what a file that fails says."""

import io
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ingest.parsers import Row, iter_rows
from ingest.types import FileFailed


class Trickle:
    """A stream that hands out a few bytes per read, to cut the input at every position."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._data = io.BytesIO(data)
        self._random = random.Random(seed)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, self._random.randint(1, 7)))


class Generated:
    """A file-like object whose bytes are produced lazily and never held whole."""

    def __init__(self, parts: Iterator[bytes]) -> None:
        self._parts = parts
        self._pending = b""
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "the parser must read in chunks, never the whole stream"
        self.largest_read = max(self.largest_read, size)
        while len(self._pending) < size:
            part = next(self._parts, None)
            if part is None:
                break
            self._pending += part
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk


def parse(data: bytes | str, file_format: str = "csv", **options: Any) -> list[Row]:
    raw = data.encode() if isinstance(data, str) else data
    return list(iter_rows(io.BytesIO(raw), file_format=file_format, **options))


def failure(data: bytes | str, file_format: str = "csv", **options: Any) -> str:
    with pytest.raises(FileFailed) as caught:
        parse(data, file_format, **options)
    return str(caught.value)


def lines_and_values(rows: list[Row]) -> list[tuple[int, dict[str, Any]]]:
    return [(row.line, row.values) for row in rows]
