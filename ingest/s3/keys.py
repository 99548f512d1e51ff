"""What a bucket holds: the pages of files a connector takes from its source directory, and
which of a batch of keys are free, found by listing the range they span."""

import fnmatch
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from connectors.paths import is_probe_key


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


def etag_of(raw: str) -> str:
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
                    etag=etag_of(item["ETag"]),
                    last_modified=item["LastModified"],
                    size=item["Size"],
                )
                for item in contents
                if layout.takes(item["Key"])
            ],
        )


def vacant_keys(
    client: Any, bucket: str, keys: list[str], *, max_pages: int = 2, page_size: int = 1000
) -> set[str]:
    """Which of `keys` hold no object, found by listing the range of keys they span: one
    request for a batch of neighbours, such as files bound for one directory, instead of a
    HEAD each. Keys the listing did not reach within `max_pages`, or all of them if listing is
    refused, are left out: the caller asks about those one by one."""
    try:
        existing, reached = list_range(client, bucket, keys, max_pages, page_size)
    except ClientError:
        return set()
    return {key for key in keys if key <= reached and key not in existing}


def list_range(
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
        listed = [(item["Key"], etag_of(item["ETag"])) for item in page.get("Contents", [])]
        existing.update(listed)
        if not page.get("IsTruncated") or (listed and listed[-1][0] >= ordered[-1]):
            return existing, ordered[-1]
        if listed:
            reached = listed[-1][0]
        if number >= max_pages:
            break
    return existing, reached
