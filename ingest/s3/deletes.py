"""Deleting the sources of files moved or done with, each only if it still holds the version
ingested (its ETag): by DeleteObjects' own condition where the endpoint honours it, otherwise
after checking the keys' ETags by one listing, just before the delete."""

from typing import Any

from botocore.exceptions import ClientError

from ingest.s3.keys import etag_of, list_range
from ingest.s3.objects import head_of

DELETE_BATCH = 1000  # DeleteObjects' limit
REPLACED = "PreconditionFailed"  # the code of a key whose ETag no longer matched


def current_etags(
    client: Any, bucket: str, keys: list[str], *, max_pages: int = 2, page_size: int = 1000
) -> dict[str, str | None]:
    """{key: the ETag it has now, None if it holds nothing}: one listing of the range the keys
    span (for a batch of sources, one request), a HEAD for each key it did not reach."""
    try:
        listed, reached = list_range(client, bucket, keys, max_pages, page_size)
    except ClientError:
        listed, reached = {}, ""
    found: dict[str, str | None] = {}
    for key in keys:
        if key <= reached:
            found[key] = listed.get(key)
        else:
            head = head_of(client, bucket, key)
            found[key] = None if head is None else etag_of(head["ETag"])
    return found


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
    response: dict[str, Any] = client.delete_objects(
        Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
    )
    return response
