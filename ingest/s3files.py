"""S3 operations of a run: list candidate files page by page, read one, move or delete them.

A move is a server-side copy (multipart above the threshold) then a delete; it never
overwrites an object that is not ours: such a destination gets a suffix instead.
"""

import fnmatch
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from connectors.paths import is_probe_key, relative_key

LEDGER_META = "loadbay-file"  # x-amz-meta-loadbay-file: the SourceFile id that wrote the object
DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    last_modified: datetime
    size: int


@dataclass(frozen=True)
class Layout:
    """Where a connector's files live, and which of them it takes."""

    bucket: str
    source: str
    success: str
    failed: str
    pattern: str

    def takes(self, key: str) -> bool:
        if key.endswith("/") or not key.startswith(self.source) or is_probe_key(key):
            return False
        for target in (self.success, self.failed):
            if target and key.startswith(target):
                return False
        return matches_pattern(posixpath.basename(key), self.pattern)


def matches_pattern(name: str, pattern: str) -> bool:
    """A pattern with * ? or [ is a glob; otherwise a prefix. Blank takes every file."""
    if not pattern:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name.startswith(pattern)


def _etag(raw: str) -> str:
    return raw.strip('"')


def list_pages(
    client: Any, layout: Layout, page_size: int = 1000
) -> Iterator[tuple[int, list[Listed]]]:
    """(keys on the page, the files of it the connector takes); one page held at a time."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=layout.bucket, Prefix=layout.source, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        contents = page.get("Contents", [])
        yield (
            len(contents),
            [
                Listed(
                    key=item["Key"],
                    etag=_etag(item["ETag"]),
                    last_modified=item["LastModified"],
                    size=item["Size"],
                )
                for item in contents
                if layout.takes(item["Key"])
            ],
        )


def open_object(client: Any, bucket: str, key: str, etag: str) -> tuple[Any, dict[str, Any]]:
    """(the object's body as a stream, its content type and metadata), only if it still has
    the ETag we claimed."""
    response = client.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')
    return response["Body"], _headers_of(response)


def _headers_of(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "content_type": response.get("ContentType", "binary/octet-stream"),
        "metadata": response.get("Metadata", {}),
    }


def destination_for(key: str, layout: Layout, target_dir: str, file_id: int, attempt: int) -> str:
    """target_dir + the key's path relative to the source; later attempts get a suffix."""
    relative = relative_key(key, layout.source)
    if attempt == 0:
        return target_dir + relative
    directory, name = posixpath.split(relative)
    stem, dot, ext = name.partition(".")
    suffix = f"-{file_id}" if attempt == 1 else f"-{file_id}-{attempt}"
    renamed = f"{stem}{suffix}{dot}{ext}"
    return target_dir + (f"{directory}/{renamed}" if directory else renamed)


def _head(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def vacant_keys(
    client: Any, bucket: str, keys: list[str], *, max_pages: int = 2, page_size: int = 1000
) -> set[str]:
    """Which of `keys` hold no object, found by listing the range of keys they span: one
    request for a batch of neighbours, such as files bound for one directory, instead of a
    HEAD each. Keys the listing did not reach within `max_pages`, or all of them if listing is
    refused, are left out: the caller asks about those one by one."""
    if not keys:
        return set()
    ordered = sorted(set(keys))  # code point order is S3's UTF-8 byte order
    request = {"Bucket": bucket, "Prefix": posixpath.commonprefix(ordered)}
    if len(ordered[0]) > 1:
        request["StartAfter"] = ordered[0][:-1]  # a proper prefix sorts just before the key
    existing: set[str] = set()
    reached = ""  # every key up to this one has been listed
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            **request, PaginationConfig={"PageSize": page_size}
        )
        for number, page in enumerate(pages, start=1):
            listed = [item["Key"] for item in page.get("Contents", [])]
            existing.update(listed)
            if not page.get("IsTruncated") or (listed and listed[-1] >= ordered[-1]):
                reached = ordered[-1]
                break
            if listed:
                reached = listed[-1]
            if number >= max_pages:
                break
    except ClientError:
        return set()
    return {key for key in ordered if key <= reached and key not in existing}


def free_destination(
    client: Any, layout: Layout, key: str, target_dir: str, file_id: int
) -> tuple[str, bool]:
    """(destination key, already copied by us). Never picks a key holding someone else's object."""
    for attempt in range(100):
        candidate = destination_for(key, layout, target_dir, file_id, attempt)
        head = _head(client, layout.bucket, candidate)
        if head is None:
            return candidate, False
        if head.get("Metadata", {}).get(LEDGER_META) == str(file_id):
            return candidate, True
    raise RuntimeError(f"no free destination for {key} after 100 attempts")


def copy_object(
    client: Any,
    bucket: str,
    source_key: str,
    dest_key: str,
    *,
    etag: str,
    size: int,
    file_id: int,
    headers: dict[str, Any] | None = None,
) -> None:
    """Server-side copy that keeps content type and metadata and marks the copy as ours.
    `headers` are the source's (from open_object); without them S3 is asked."""
    if headers is None:
        headers = _headers_of(
            client.head_object(Bucket=bucket, Key=source_key, IfMatch=f'"{etag}"')
        )
    metadata = {**headers["metadata"], LEDGER_META: str(file_id)}
    content_type = headers["content_type"]
    source = {"Bucket": bucket, "Key": source_key}
    if size <= settings.S3_MULTIPART_COPY_THRESHOLD:
        client.copy_object(
            Bucket=bucket,
            Key=dest_key,
            CopySource=source,
            CopySourceIfMatch=f'"{etag}"',
            MetadataDirective="REPLACE",
            Metadata=metadata,
            ContentType=content_type,
        )
        return
    _multipart_copy(client, bucket, source, dest_key, etag, size, metadata, content_type)


def _multipart_copy(
    client: Any,
    bucket: str,
    source: dict[str, str],
    dest_key: str,
    etag: str,
    size: int,
    metadata: dict[str, str],
    content_type: str,
) -> None:
    part_size = settings.S3_MULTIPART_COPY_PART_SIZE
    upload = client.create_multipart_upload(
        Bucket=bucket, Key=dest_key, Metadata=metadata, ContentType=content_type
    )
    upload_id = upload["UploadId"]
    try:
        parts = []
        for number, start in enumerate(range(0, size, part_size), start=1):
            end = min(start + part_size, size) - 1
            response = client.upload_part_copy(
                Bucket=bucket,
                Key=dest_key,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=source,
                CopySourceIfMatch=f'"{etag}"',
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
        client.complete_multipart_upload(
            Bucket=bucket, Key=dest_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except Exception:
        client.abort_multipart_upload(Bucket=bucket, Key=dest_key, UploadId=upload_id)
        raise


def put_text(client: Any, bucket: str, key: str, text: str, file_id: int) -> None:
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=text.encode(),
        ContentType="text/plain; charset=utf-8",
        Metadata={LEDGER_META: str(file_id)},
    )


def delete_keys(client: Any, bucket: str, keys: list[str]) -> dict[str, str]:
    """Delete in batches of 1000; return {key: error message} for the keys that failed."""
    failures: dict[str, str] = {}
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        response = client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
        )
        for error in response.get("Errors", []):
            failures[error["Key"]] = f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
    return failures
