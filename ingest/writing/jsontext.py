"""The text records travel in to the database: JSON documents, and PostgreSQL COPY's text format.

Each is built at once for a whole batch: a call per record into json or into psycopg's
write_row costs more than the record's encoding (BENCHMARKS.md).
"""

import json
from collections.abc import Sequence
from typing import Any, Protocol

from ingest.writing.rows import Data

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Keyed(Protocol):
    """A record to write: its identifier and its data (a Candidate or a Write)."""

    @property
    def external_id(self) -> str: ...

    @property
    def data(self) -> Data | None: ...


def dumps(value: Any) -> str:
    return _ENCODE(value)


def json_of(data: Data | None) -> str:
    """Data as JSON text (a generated block cleaner may have written it already)."""
    return data if isinstance(data, str) else _ENCODE(data)


def pairs_json(records: Sequence[Keyed]) -> str:
    """[[external_id, {...}], ...]: a batch as one JSON document, one statement parameter."""
    parts = [f"[{_ENCODE(r.external_id)},{json_of(r.data)}]" for r in records]
    return f"[{','.join(parts)}]"


# COPY's text format gives a backslash, tab, newline and carriage return a meaning of their own.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_escaped(text: str) -> str:
    return text.translate(_COPY_ESCAPES) if "\\" in text or not text.isprintable() else text


def copy_text(records: Sequence[Keyed], head: str, tail: str) -> str:
    """Records in COPY's text format, each line `head`, identifier, tab, data, `tail`. Data
    that is JSON text already comes from a block cleaner, which takes no value that COPY would
    need escaped."""
    return "".join(
        [
            f"{head}{r.external_id}\t{r.data}{tail}"
            if r.data.__class__ is str
            else f"{head}{copy_escaped(r.external_id)}\t{copy_escaped(_ENCODE(r.data))}{tail}"
            for r in records
        ]
    )
