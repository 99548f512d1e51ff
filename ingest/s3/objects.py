"""Reading and writing a connector's objects: a claimed file is read only if it still is the
version claimed, and a file is written where it goes, never over an object that is not ours.

A file is written by a server-side copy (multipart above the threshold) after a listing found
its name free, or, for a small file whose bytes a run already holds, by a conditional PUT
(If-None-Match: *) that the endpoint itself refuses when the name is taken, where the endpoint
honours it (probed, see conditions); a name that is taken gets a suffix instead (see
destinations). Nothing is copied as ingested unless it is the version read (its ETag): by the
request's own condition where the endpoint honours it, otherwise by checking the ETag a read or
copy returns.
"""

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from ingest.s3.destinations import MAX_ATTEMPTS, candidates, report_key
from ingest.s3.keys import Layout, etag_of

logger = logging.getLogger(__name__)
LEDGER_META = "loadbay-file"  # x-amz-meta-loadbay-file: the SourceFile id that wrote the object
# Properties of an object that a move keeps: (GetObject response field, ledger name, the
# PutObject/CopyObject parameter). Tags are kept by copying (see can_put).
KEPT_PROPERTIES = (
    ("ContentEncoding", "content_encoding", "ContentEncoding"),
    ("ContentLanguage", "content_language", "ContentLanguage"),
    ("ContentDisposition", "content_disposition", "ContentDisposition"),
    ("CacheControl", "cache_control", "CacheControl"),
    ("StorageClass", "storage_class", "StorageClass"),
)


class SourceReplaced(Exception):
    """The source no longer holds the version claimed (found by its ETag where the endpoint
    ignored the request's condition); a copy made of it was taken back."""


def open_object(client: Any, bucket: str, key: str, etag: str) -> tuple[Any, dict[str, Any]]:
    """(the object's body as a stream, its content type and metadata), only if it still has
    the ETag we claimed: If-Match, and the ETag of the response (some endpoints ignore it)."""
    response = client.get_object(Bucket=bucket, Key=key, IfMatch=f'"{etag}"')
    if etag_of(response.get("ETag", "")) != etag:
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


def head_of(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        head: dict[str, Any] = client.head_object(Bucket=bucket, Key=key)
        return head
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def free_destination(
    client: Any, layout: Layout, key: str, target_dir: str, file_id: int, *, with_report: bool
) -> tuple[str, str | None]:
    """(destination key, the ETag of the copy this ledger entry made there already, if any):
    the first name free or holding our copy, whose report's name (with_report) is too. Never
    picks a key holding someone else's object."""
    for candidate in candidates(key, layout.source, target_dir, file_id, with_report=with_report):
        head = head_of(client, layout.bucket, candidate)
        if head is not None and not _written_by(head, file_id):
            continue
        if with_report and not _free_or_ours(client, layout.bucket, report_key(candidate), file_id):
            continue
        return candidate, None if head is None else etag_of(head["ETag"])
    raise RuntimeError(f"no free destination for {key} after {MAX_ATTEMPTS} attempts")


def _free_or_ours(client: Any, bucket: str, key: str, file_id: int) -> bool:
    head = head_of(client, bucket, key)
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
        if etag_of(head["ETag"]) != etag:
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
        copied = etag_of(response["CopyObjectResult"]["ETag"])
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
    head = head_of(client, bucket, key)
    return None if head is None else etag_of(head["ETag"])


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
        if _written_by(head_of(client, layout.bucket, candidate), file_id):
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
        return _written_by(head_of(client, bucket, key), file_id)  # ours: an earlier attempt's
    return True


def remove_copy(client: Any, bucket: str, key: str) -> None:
    """Delete an object this run wrote and must not leave (best effort: a copy left behind
    holds nothing that is not also elsewhere)."""
    try:
        client.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        logger.warning("could not remove our copy %s: %s", key, exc)
