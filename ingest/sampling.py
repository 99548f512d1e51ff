"""Samples of a connector's files, read before anything is saved (the wizard's Field Mapping
step): which files of its source directory it would take (the first page of the listing,
matched as a run matches them), the first bytes of one of them (a ranged GET) or of an uploaded
file, and the rows a run's parser makes of them. Reading only: nothing is claimed, moved,
written or recorded in the ledger.

A sample is at most WIZARD_SAMPLE_BYTES of the file (and of its text, once gunzipped). When
that is not the whole file, the text is cut after its last whole line, and a JSON array ends at
its last whole element: a row cut short is left out, never shown or checked as a bad row.
"""

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from connectors.aws import describe_error
from ingest.parsers import BadRow, Row, header_of, iter_rows
from ingest.parsers.streams import GZIP_MAGIC, TRUNCATED_GZIP, BinaryReader, gunzip_head
from ingest.s3.keys import Layout, Listed, list_pages
from ingest.types import FileFailed

SHOWN_ROWS = 20  # rows a preview shows
LIST_PAGE = 1000  # keys of the listing's first page
READ_CHUNK = 64 * 1024


# --- which files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """The files the connector would take among the first page of its source directory's
    listing, newest first; `more`: the page was full, so the directory may hold others."""

    files: list[Listed]
    more: bool

    @property
    def newest(self) -> Listed | None:
        return self.files[0] if self.files else None

    def get(self, key: str) -> Listed | None:
        return next((listed for listed in self.files if listed.key == key), None)


def matching_files(client: Any, layout: Layout) -> Listing:
    """The first page of the source directory's listing, the files `layout` takes (as ingest
    lists them: ingest.s3.keys). Raises connectors.aws.S3AccessError saying why not."""
    try:
        count, files = next(list_pages(client, layout, page_size=LIST_PAGE), (0, []))
    except (ClientError, BotoCoreError) as exc:
        raise describe_error(exc, action="Listing the Source Files Directory") from exc
    return Listing(newest_first(files), more=count >= LIST_PAGE)


def newest_first(files: Iterable[Listed]) -> list[Listed]:
    """By LastModified, newest first; files of the same second, the last key first."""
    return sorted(files, key=lambda f: (f.last_modified, f.key), reverse=True)


# --- the first bytes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The first bytes of a file, and whether they are the whole of it."""

    data: bytes
    complete: bool


def read_at_most(stream: BinaryReader, limit: int) -> bytes:
    """Up to `limit` bytes of the stream; nothing past them is read."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(READ_CHUNK, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def read_head(client: Any, bucket: str, key: str, limit: int) -> Head:
    """At most `limit` bytes from the start of an object, by a ranged GET (`Range: bytes=0-`
    limit - 1). A server that ignores the range and sends the whole object is read no further:
    the rest of the body is left unread and its connection dropped. Raises
    connectors.aws.S3AccessError saying why the object could not be read."""
    action = f"Reading {key}"
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{limit - 1}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidRange":
            return Head(b"", complete=True)  # an empty object has no first byte to send
        raise describe_error(exc, action=action) from exc
    except BotoCoreError as exc:
        raise describe_error(exc, action=action) from exc
    body = response["Body"]
    try:
        data = read_at_most(body, limit)
    except (ClientError, BotoCoreError) as exc:
        raise describe_error(exc, action=action) from exc
    finally:
        body.close()
    return Head(data, complete=_object_size(response, data, limit) <= len(data))


def _object_size(response: dict[str, Any], data: bytes, limit: int) -> int:
    """The object's size: from Content-Range (`bytes 0-1023/52311`) of a partial response, or
    Content-Length of a whole one; if neither says, a full read may have left some unread."""
    content_range = str(response.get("ContentRange") or "")
    total = content_range.rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = response.get("ContentLength")
    if not content_range and isinstance(length, int):
        return length
    return len(data) + 1 if len(data) >= limit else len(data)


def head_of_upload(upload: Any, limit: int) -> Head:
    """The first `limit` bytes of an uploaded file (a Django UploadedFile; `size` is the size
    of the whole upload)."""
    data = read_at_most(upload, limit)
    size = upload.size if isinstance(upload.size, int) else len(data)
    return Head(data, complete=size <= len(data))


# --- the rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownRow:
    """A row of the preview: its line (or element) number, its values by column, and, for a
    row the parser could not read, why."""

    line: int
    cells: list[str]
    problem: str = ""


@dataclass(frozen=True)
class Preview:
    """What a sample shows: its columns, its first rows, how many whole rows it holds, and why
    it cannot be read, if it cannot (the parser's own message)."""

    columns: list[str]
    rows: list[ShownRow] = field(default_factory=list)
    rows_read: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Sample:
    """A file's first bytes as the text a run's parser reads (gunzipped when a run would:
    a name ending in .gz or gzip's magic bytes); `cut_short`: the text is not the whole file."""

    name: str
    text: bytes
    cut_short: bool
    file_format: str
    delimiter: str

    def rows(self) -> Iterator[Row]:
        """The sample's rows, as ingest.parsers.iter_rows reads them. FileFailed when it
        cannot be read, except where a sample cut short ends inside a row after whole ones:
        there the rows end."""
        read = 0
        try:
            for row in iter_rows(
                io.BytesIO(self.text), file_format=self.file_format, delimiter=self.delimiter
            ):
                read += 1
                yield row
        except FileFailed:
            if self.cut_short and read:
                return
            raise

    def preview(self, shown: int = SHOWN_ROWS) -> Preview:
        """The columns (a CSV or TSV file's header; the keys JSON rows have, in the order they
        first appear), the first `shown` rows, and the count of whole rows."""
        columns: list[str] = []
        rows: list[Row] = []
        read = 0
        try:
            header = header_of(
                io.BytesIO(self.text), file_format=self.file_format, delimiter=self.delimiter
            )
            columns = list(header or ())
            seen = set(columns)
            for row in self.rows():
                read += 1
                if header is None and not isinstance(row, BadRow):
                    new = [name for name in row.values if name not in seen]
                    columns += new
                    seen.update(new)
                if len(rows) < shown:
                    rows.append(row)
        except FileFailed as exc:
            return Preview(columns, _shown(rows, columns), read, self._why(str(exc)))
        return Preview(columns, _shown(rows, columns), read)

    def _why(self, message: str) -> str:
        if not self.cut_short:
            return message
        return f"{message} (only the first {len(self.text):,} bytes of the file were read)"


def sample_of(head: Head, *, name: str, file_format: str, delimiter: str, limit: int) -> Sample:
    """The sample a file's first bytes make. Raises FileFailed for gzip data a run could not
    read either."""
    data, complete = head.data, head.complete
    if data and (data.startswith(GZIP_MAGIC) or name.lower().endswith(".gz")):
        data, ended = gunzip_head(data, limit)
        if complete and not ended and len(data) < limit:
            raise FileFailed(TRUNCATED_GZIP)  # the whole file was read: it is cut short
        complete = complete and ended
    if not complete and file_format != "json":
        end = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
        if end:
            data = data[:end]  # the last line may be cut short: leave it out
    return Sample(name, data, not complete, file_format, delimiter)


def _shown(rows: list[Row], columns: list[str]) -> list[ShownRow]:
    shown = []
    for row in rows:
        cells = [_cell(row.values.get(column)) for column in columns]
        problem = row.reason if isinstance(row, BadRow) else ""
        shown.append(ShownRow(row.line, cells, problem))
    return shown


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)
