"""S3 operations of a run: list candidate files page by page, read one, move or delete them.

A move writes the file where it goes, then deletes it from the source; it never overwrites an
object that is not ours: such a destination gets a suffix instead. The file is written by a
server-side copy (multipart above the threshold) after a listing found its name free, or, for
a small file whose bytes a run already holds, by a conditional PUT (If-None-Match: *) that
the endpoint itself refuses when the name is taken, where the endpoint honours it (probed).
Nothing is moved or deleted as ingested unless it is the version read (its ETag): by the
request's own condition where the endpoint honours it (see conditions), otherwise by checking
the ETag a read or copy returns, and the sources' ETags just before deleting them.
"""

import fnmatch
import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from connectors.paths import is_probe_key
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


class SourceReplaced(Exception):
    """The source no longer holds the version claimed (found by its ETag where the endpoint
    ignored the request's condition); a copy made of it was taken back."""


def open_object(client: Any, bucket: str, key: str, etag: str) -> tuple[Any, dict[str, Any]]:
    """(the object's body as a stream, its content type and metadata), only if it still has
    the ETag we claimed: If-Match, and the ETag of the response (some endpoints ignore it)."""
    response = client.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')
    if _etag(response.get("ETag", "")) != etag:
        response["Body"].close()
        raise SourceReplaced(key)
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
    try:
        existing, reached = _list_range(client, bucket, keys, max_pages, page_size)
    except ClientError:
        return set()
    return {key for key in keys if key <= reached and key not in existing}


def current_etags(
    client: Any, bucket: str, keys: list[str], *, max_pages: int = 2, page_size: int = 1000
) -> dict[str, str | None]:
    """{key: the ETag it has now, None if it holds nothing}: one listing of the range the keys
    span (for a batch of sources, one request), a HEAD for each key it did not reach."""
    try:
        listed, reached = _list_range(client, bucket, keys, max_pages, page_size)
    except ClientError:
        listed, reached = {}, ""
    found: dict[str, str | None] = {}
    for key in keys:
        if key <= reached:
            found[key] = listed.get(key)
        else:
            head = _head(client, bucket, key)
            found[key] = None if head is None else _etag(head["ETag"])
    return found


def _list_range(
    client: Any, bucket: str, keys: list[str], max_pages: int, page_size: int
) -> tuple[dict[str, str], str]:
    """({key: ETag} of the objects in the range `keys` span, the last key reached: every key
    up to it has been listed)."""
    if not keys:
        return {}, ""
    ordered = sorted(set(keys))  # code point order is S3's UTF-8 byte order
    request = {"Bucket": bucket, "Prefix": posixpath.commonprefix(ordered)}
    if len(ordered[0]) > 1:
        request["StartAfter"] = ordered[0][:-1]  # a proper prefix sorts just before the key
    existing: dict[str, str] = {}
    reached = ""
    pages = client.get_paginator("list_objects_v2").paginate(
        **request, PaginationConfig={"PageSize": page_size}
    )
    for number, page in enumerate(pages, start=1):
        listed = [(item["Key"], _etag(item["ETag"])) for item in page.get("Contents", [])]
        existing.update(listed)
        if not page.get("IsTruncated") or (listed and listed[-1][0] >= ordered[-1]):
            return existing, ordered[-1]
        if listed:
            reached = listed[-1][0]
        if number >= max_pages:
            break
    return existing, reached


def free_destination(
    client: Any, layout: Layout, key: str, target_dir: str, file_id: int, *, with_report: bool
) -> tuple[str, str | None]:
    """(destination key, the ETag of the copy this ledger entry made there already, if any):
    the first name free or holding our copy, whose report's name (with_report) is too. Never
    picks a key holding someone else's object."""
    for candidate in candidates(key, layout.source, target_dir, file_id, with_report=with_report):
        head = _head(client, layout.bucket, candidate)
        if head is not None and not _written_by(head, file_id):
            continue
        if with_report and not _free_or_ours(client, layout.bucket, report_key(candidate), file_id):
            continue
        return candidate, None if head is None else _etag(head["ETag"])
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
    check: bool = False,
) -> None:
    """Server-side copy that keeps content type and metadata and marks the copy as ours.
    `headers` are the source's (from open_object); without them S3 is asked. The copy names
    the source's ETag (CopySourceIfMatch); `check` where the endpoint ignores that: a copy
    that may hold another version is taken back and SourceReplaced raised."""
    if headers is None:
        head = client.head_object(Bucket=bucket, Key=source_key, IfMatch=f'"{etag}"')
        if _etag(head["ETag"]) != etag:
            raise SourceReplaced(source_key)
        headers = _headers_of(head)
    params = _write_params(headers, file_id)
    source = {"Bucket": bucket, "Key": source_key}
    if size <= settings.S3_MULTIPART_COPY_THRESHOLD:
        response = client.copy_object(
            Bucket=bucket,
            Key=dest_key,
            CopySource=source,
            CopySourceIfMatch=f'"{etag}"',
            MetadataDirective="REPLACE",
            **params,
        )
        copied = _etag(response["CopyObjectResult"]["ETag"])
    else:
        if check and _current_etag(client, bucket, source_key) != etag:
            raise SourceReplaced(source_key)  # before copying gigabytes for nothing
        _multipart_copy(client, bucket, source, dest_key, etag, size, params)
        copied = ""  # a multipart copy's ETag is never the source's: the source decides
    if check:
        ensure_copy_of(client, bucket, source_key, etag, copied=copied, copy_key=dest_key)


def ensure_copy_of(
    client: Any, bucket: str, source_key: str, etag: str, *, copied: str, copy_key: str
) -> None:
    """Where CopySourceIfMatch is ignored: the copy at `copy_key` (its ETag `copied`) holds
    the version `etag` of the source if it has that ETag, or, when the ETags of a copy and its
    source differ anyway (a multipart upload, some encryption), if the source still has it,
    so that no other version can have been copied (but one put there and replaced back within
    moments). Otherwise the copy is taken back and SourceReplaced raised."""
    if copied == etag or _current_etag(client, bucket, source_key) == etag:
        return
    remove_copy(client, bucket, copy_key)
    raise SourceReplaced(source_key)


def _current_etag(client: Any, bucket: str, key: str) -> str | None:
    head = _head(client, bucket, key)
    return None if head is None else _etag(head["ETag"])


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
        # Ours: an earlier try of this batch PUT the same bytes (held only by the task that
        # read and ingested them), so unlike a copy found, it needs no check of its version.
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


def delete_keys(
    client: Any, bucket: str, keys: dict[str, str], *, check: bool = False
) -> dict[str, tuple[str, str]]:
    """Delete {key: ETag} in batches of 1000, each key only if it still has that ETag: a file
    replaced since it was read stays. The delete names the ETags (a conditional delete); with
    `check`, where the endpoint ignores that, the keys' ETags are looked up first (one listing
    for a batch of neighbours) and only the unchanged are deleted. Returns {key: (code,
    message)} for the keys not deleted: REPLACED for those replaced."""
    failures: dict[str, tuple[str, str]] = {}
    if check:
        keys, failures = _unchanged(client, bucket, keys)
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


def _unchanged(
    client: Any, bucket: str, keys: dict[str, str]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """({key: ETag} of the keys that still have their ETag, {key: (REPLACED, why)} of those
    that hold another version). Keys that hold nothing are in neither: there is nothing to
    delete (an earlier attempt did)."""
    now = current_etags(client, bucket, list(keys))
    unchanged = {key: etag for key, etag in keys.items() if now[key] == etag}
    replaced = {
        key: (REPLACED, "replaced since it was read")
        for key, etag in keys.items()
        if now[key] not in {None, etag}
    }
    return unchanged, replaced


def _delete_objects(
    client: Any, bucket: str, batch: list[tuple[str, str]], *, with_etags: bool
) -> dict[str, Any]:
    objects = [{"Key": k, "ETag": f'"{e}"'} if with_etags else {"Key": k} for k, e in batch]
    return client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
