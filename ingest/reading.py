"""Reading claimed files from S3: the version claimed, streamed, or (a batch of small files)
read whole a few at a time; or why it could not be read."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from connectors.aws import describe_error
from ingest.errors import FileChanged, TransientIngestError
from ingest.models import SourceFile
from ingest.s3.client import layout_for
from ingest.s3.objects import SourceReplaced, open_object

REPLACED_AFTER_LISTING = (
    "The file was replaced after it was listed; the new version will be ingested by the next run."
)


@dataclass(frozen=True)
class Content:
    """A file read whole, and the headers a move keeps."""

    data: bytes
    headers: dict[str, Any]


@dataclass(frozen=True)
class Unread:
    """Why a file could not be read: it changed (replaced or deleted since it was listed: the
    next run takes its new version), or a passing failure (throttling, an outage: it is given
    back, or its task retried)."""

    reason: str
    changed: bool

    def error(self) -> Exception:
        """As the exception that ends a file's transaction (see ingest.errors)."""
        return FileChanged(self.reason) if self.changed else TransientIngestError(self.reason)


def open_file(client: Any, source_file: SourceFile) -> tuple[Any, dict[str, Any]]:
    """The file's body as a stream and its headers; raises FileChanged or TransientIngestError
    if it cannot be read as the version claimed."""
    opened = _opened(client, source_file)
    if isinstance(opened, Unread):
        raise opened.error()
    return opened


def read_all(client: Any, files: list[SourceFile]) -> dict[int, Content | Unread]:
    """{file id: its content, or why it was not read}, INGEST_S3_THREADS files at a time.
    Bodies are held whole: a batch of several files is at most INGEST_BATCH_BYTES."""

    def read(source_file: SourceFile) -> Content | Unread:
        opened = _opened(client, source_file)
        if isinstance(opened, Unread):
            return opened
        body, headers = opened
        try:
            return Content(body.read(), headers)
        except (ClientError, BotoCoreError) as exc:
            return why_unread(exc, source_file.key)
        finally:
            body.close()

    if not files:
        return {}
    with ThreadPoolExecutor(max(1, min(settings.INGEST_S3_THREADS, len(files)))) as pool:
        return {f.pk: content for f, content in zip(files, pool.map(read, files), strict=True)}


def why_unread(exc: ClientError | BotoCoreError, key: str) -> Unread:
    """What a failed read (a request, or a stream that broke off) means for the file."""
    error = describe_error(exc, action=f"Reading {key}")
    if error.code in {"PreconditionFailed", "412"}:
        return Unread(REPLACED_AFTER_LISTING, changed=True)
    if error.code in {"NoSuchKey", "404"}:
        return Unread("The file was deleted from the bucket before it could be read.", changed=True)
    return Unread(str(error), changed=False)


def _opened(client: Any, source_file: SourceFile) -> tuple[Any, dict[str, Any]] | Unread:
    try:
        bucket = layout_for(source_file.connector).bucket
        return open_object(client, bucket, source_file.key, source_file.etag)
    except SourceReplaced:  # the endpoint ignored If-Match
        return Unread(REPLACED_AFTER_LISTING, changed=True)
    except (ClientError, BotoCoreError) as exc:
        return why_unread(exc, source_file.key)
