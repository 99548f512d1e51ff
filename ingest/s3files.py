"""S3 operations of a run: list candidate files page by page, read one, move or delete them.

A move writes the file where it goes, then deletes it from the source; it never overwrites an
object that is not ours: such a destination gets a suffix instead. The file is written by a
server-side copy (multipart above the threshold) after a listing found its name free, or, for
a small file whose bytes a run already holds, by a conditional PUT (If-None-Match: *) that
the endpoint itself refuses when the name is taken, where the endpoint honours it (probed).
Sources are deleted only if they still hold the version read (ETag), where that is honoured.
"""

import fnmatch
import logging
import posixpath
import threading
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from connectors.paths import PROBE_PREFIX, is_probe_key
from ingest.destinations import MAX_ATTEMPTS, candidates, report_key

logger = logging.getLogger(__name__)
LEDGER_META = "loadbay-file"  # x-amz-meta-loadbay-file: the SourceFile id that wrote the object
DELETE_BATCH = 1000  # DeleteObjects' limit
# Properties of an object that a move keeps: (GetObject response field, ledger name, the
# PutObject/CopyObject parameter). Tags are kept by copying (see can_put).
KEPT_PROPERTIES = (
    ("ContentEncoding", "content_encoding", "ContentEncoding"),
    ("ContentLanguage", "content_language", "ContentLanguage"),
    ("ContentDisposition", "content_disposition", "ContentDisposition"),
    ("CacheControl", "cache_control", "CacheControl"),
    ("StorageClass", "storage_class", "StorageClass"),
)


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
    """What a move must keep of the object (stored in the ledger, so only what is set)."""
    headers: dict[str, Any] = {
        "content_type": response.get("ContentType", "binary/octet-stream"),
        "metadata": response.get("Metadata", {}),
    }
    for field, name, _ in KEPT_PROPERTIES:
        if response.get(field):
            headers[name] = response[field]
    if response.get("TagCount"):
        headers["tag_count"] = response["TagCount"]
    return headers


def _write_params(headers: dict[str, Any], file_id: int) -> dict[str, Any]:
    """PutObject/CopyObject (REPLACE) parameters that give the copy the source's properties,
    marked as written by ledger entry `file_id`."""
    params: dict[str, Any] = {
        "Metadata": {**headers["metadata"], LEDGER_META: str(file_id)},
        "ContentType": headers["content_type"],
    }
    for _, name, parameter in KEPT_PROPERTIES:
        if headers.get(name):
            params[parameter] = headers[name]
    return params


def can_put(headers: dict[str, Any] | None) -> bool:
    """Whether a PUT of the bytes keeps everything a copy would: not if the object has tags
    (a copy keeps them; a PUT would need them read first)."""
    return headers is not None and not headers.get("tag_count")


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
    client: Any, layout: Layout, key: str, target_dir: str, file_id: int, *, with_report: bool
) -> tuple[str, bool]:
    """(destination key, already copied by us): the first name free or holding this ledger
    entry's copy, whose report's name (with_report) is too. Never picks a key holding someone
    else's object."""
    for candidate in candidates(key, layout.source, target_dir, file_id, with_report=with_report):
        head = _head(client, layout.bucket, candidate)
        if head is not None and not _written_by(head, file_id):
            continue
        if with_report and not _free_or_ours(client, layout.bucket, report_key(candidate), file_id):
            continue
        return candidate, head is not None
    raise RuntimeError(f"no free destination for {key} after {MAX_ATTEMPTS} attempts")


def _free_or_ours(client: Any, bucket: str, key: str, file_id: int) -> bool:
    head = _head(client, bucket, key)
    return head is None or _written_by(head, file_id)


def _written_by(head: dict[str, Any] | None, file_id: int) -> bool:
    """Whether the object (a HeadObject response) was written by ledger entry `file_id`."""
    return head is not None and head.get("Metadata", {}).get(LEDGER_META) == str(file_id)


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
    params = _write_params(headers, file_id)
    source = {"Bucket": bucket, "Key": source_key}
    if size <= settings.S3_MULTIPART_COPY_THRESHOLD:
        client.copy_object(
            Bucket=bucket,
            Key=dest_key,
            CopySource=source,
            CopySourceIfMatch=f'"{etag}"',
            MetadataDirective="REPLACE",
            **params,
        )
        return
    _multipart_copy(client, bucket, source, dest_key, etag, size, params)


def _multipart_copy(
    client: Any,
    bucket: str,
    source: dict[str, str],
    dest_key: str,
    etag: str,
    size: int,
    params: dict[str, Any],
) -> None:
    part_size = settings.S3_MULTIPART_COPY_PART_SIZE
    upload = client.create_multipart_upload(Bucket=bucket, Key=dest_key, **params)
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


def place_bytes(
    client: Any,
    layout: Layout,
    key: str,
    target_dir: str,
    *,
    file_id: int,
    data: bytes,
    headers: dict[str, Any],
    with_report: bool,
) -> str:
    """Write a file's bytes where it goes with conditional PUTs, each refused by the endpoint
    if its name is taken (If-None-Match: *): the first free name, or the one this ledger entry
    wrote already (a move interrupted after its write), skipping names whose report's name
    (with_report) holds someone else's object. Returns the key written."""
    params = _write_params(headers, file_id)
    for candidate in candidates(key, layout.source, target_dir, file_id, with_report=with_report):
        if with_report and not _free_or_ours(client, layout.bucket, report_key(candidate), file_id):
            continue
        if _put_if_absent(client, layout.bucket, candidate, data, params):
            return candidate
        if _written_by(_head(client, layout.bucket, candidate), file_id):
            return candidate
    raise RuntimeError(f"no free destination for {key} after {MAX_ATTEMPTS} attempts")


def _put_if_absent(client: Any, bucket: str, key: str, data: bytes, params: dict[str, Any]) -> bool:
    """True if written; False if the name is taken. Other errors (a 409 for a concurrent write
    of the same name among them) propagate: the move is retried."""
    try:
        client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*", **params)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
            return False
        raise
    return True


_honoured: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], bool]]" = (
    weakref.WeakKeyDictionary()
)
_honoured_lock = threading.Lock()


def honours_conditional_writes(client: Any, bucket: str, prefix: str) -> bool:
    """Whether the endpoint refuses a PUT with If-None-Match: * over an existing object, which
    place_bytes relies on never to overwrite. AWS S3 and most S3-compatible stores do; one
    that ignored the header would overwrite, so it is tried once per client and directory: a
    probe object written twice (the second must be refused), then removed. S3_CONDITIONAL_WRITES
    = "off" never relies on it."""
    if settings.S3_CONDITIONAL_WRITES == "off":
        return False
    with _honoured_lock:  # held through a probe: threads asking meanwhile wait for its answer
        known = _honoured.setdefault(client, {})
        if (bucket, prefix) not in known:
            known[(bucket, prefix)] = _probe_conditional_writes(client, bucket, prefix)
        return known[(bucket, prefix)]


def _probe_conditional_writes(client: Any, bucket: str, prefix: str) -> bool:
    key = f"{prefix}{PROBE_PREFIX}{uuid.uuid4().hex}-conditional-write"
    body = b"Loadbay probe: does this endpoint honour If-None-Match? Safe to delete.\n"
    params = {"Bucket": bucket, "Key": key, "Body": body, "IfNoneMatch": "*"}
    try:
        client.put_object(**params)
    except (ClientError, BotoCoreError):
        return False  # refused or not implemented: moves copy after listing instead
    try:
        client.put_object(**params)
        honoured = False  # written over: the endpoint ignores the condition
    except ClientError as exc:
        honoured = exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}
    except BotoCoreError:
        honoured = False
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not remove the probe object %s: %s", key, exc)
    return honoured


def put_report(
    client: Any, bucket: str, key: str, text: str, file_id: int, *, if_absent: bool
) -> bool:
    """Write a failed file's error report; False if its name holds someone else's object.
    `if_absent` where the endpoint honours If-None-Match (probed): it refuses the PUT over an
    existing name. Otherwise the name was found free by listing or HEAD just before."""
    params = {
        "Bucket": bucket,
        "Key": key,
        "Body": text.encode(),
        "ContentType": "text/plain; charset=utf-8",
        "Metadata": {LEDGER_META: str(file_id)},
    }
    if not if_absent:
        client.put_object(**params)
        return True
    try:
        client.put_object(**params, IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"PreconditionFailed", "412"}:
            raise
        return _written_by(_head(client, bucket, key), file_id)  # ours: an earlier attempt's
    return True


def remove_copy(client: Any, bucket: str, key: str) -> None:
    """Delete an object this run wrote and must not leave (best effort: a copy left behind
    holds nothing that is not also elsewhere)."""
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not remove our copy %s: %s", key, exc)


REPLACED = "PreconditionFailed"  # the code of a key whose ETag no longer matched


def delete_keys(client: Any, bucket: str, keys: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Delete {key: ETag} in batches of 1000, each key only if it still has that ETag (a
    conditional delete, where the endpoint honours it): a file replaced since it was read
    stays. Returns {key: (code, message)} for the keys not deleted: REPLACED for those."""
    failures: dict[str, tuple[str, str]] = {}
    items = list(keys.items())
    for start in range(0, len(items), DELETE_BATCH):
        batch = items[start : start + DELETE_BATCH]
        try:
            response = _delete_objects(client, bucket, batch, with_etags=True)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"MalformedXML", "NotImplemented"}:
                raise
            # An endpoint that does not know conditional deletes: delete as before.
            response = _delete_objects(client, bucket, batch, with_etags=False)
        for error in response.get("Errors", []):
            failures[error["Key"]] = (error.get("Code", "Error"), error.get("Message", ""))
    return failures


def _delete_objects(
    client: Any, bucket: str, batch: list[tuple[str, str]], *, with_etags: bool
) -> dict[str, Any]:
    objects = [{"Key": k, "ETag": f'"{e}"'} if with_etags else {"Key": k} for k, e in batch]
    return client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
