"""Which request conditions an S3 endpoint honours, found by a probe once per client and
directory.

AWS S3 refuses a PUT with If-None-Match: * over an existing object, refuses a copy whose
source no longer has the ETag named (CopySourceIfMatch), and deletes a key of DeleteObjects
only if it still has the ETag given with it. moto and some S3-compatible stores ignore some of
these: relied on there, a move could overwrite, copy a version that was not ingested, or delete
one. The probe writes an object (`.loadbay-probe-*`) and asks for each of them with an ETag or
name that must be refused, then removes what it wrote. Where a condition is ignored, or the
probe could not tell, moves check for themselves instead (see objects and deletes);
S3_CONDITIONAL_WRITES = "off" relies on none of them and probes nothing. If-Match on GET is
never relied on: each read compares the ETag it got with the one claimed.
"""

import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from connectors.paths import PROBE_PREFIX

logger = logging.getLogger(__name__)
PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412"})
_NO_SUCH_ETAG = '"00000000000000000000000000000000"'


@dataclass(frozen=True)
class Honoured:
    put_if_absent: bool  # PUT with If-None-Match: * over an existing object is refused
    copy_if_match: bool  # a copy with another source ETag (CopySourceIfMatch) is refused
    delete_if_match: bool  # a DeleteObjects key given with another ETag is left


NOTHING = Honoured(put_if_absent=False, copy_if_match=False, delete_if_match=False)

_known: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Honoured]]" = (
    weakref.WeakKeyDictionary()
)
_known_lock = threading.Lock()


def endpoint_conditions(client: Any, bucket: str, prefix: str) -> Honoured:
    """What the endpoint behind `client` honours, probed in directory `prefix` of `bucket`
    the first time it is asked."""
    if settings.S3_CONDITIONAL_WRITES == "off":
        return NOTHING
    with _known_lock:  # held through a probe: threads asking meanwhile wait for its answer
        known = _known.setdefault(client, {})
        if (bucket, prefix) not in known:
            known[(bucket, prefix)] = _probe(client, bucket, prefix)
        return known[(bucket, prefix)]


def honours_conditional_writes(client: Any, bucket: str, prefix: str) -> bool:
    """Whether a PUT with If-None-Match: * is refused over an existing object, which moves by
    PUT rely on never to overwrite."""
    return endpoint_conditions(client, bucket, prefix).put_if_absent


def _probe(client: Any, bucket: str, prefix: str) -> Honoured:
    key = f"{prefix}{PROBE_PREFIX}{uuid.uuid4().hex}-conditions"
    body = b"Loadbay probe: which request conditions does this endpoint honour? Safe to delete.\n"
    put = {"Bucket": bucket, "Key": key, "Body": body, "IfNoneMatch": "*"}
    try:
        client.put_object(**put)
    except (ClientError, BotoCoreError):
        return NOTHING  # refused or not implemented: every check is made by the moves
    copy_key = f"{key}-copy"
    copied: list[str] = []

    def copy() -> None:
        client.copy_object(
            Bucket=bucket,
            Key=copy_key,
            CopySource={"Bucket": bucket, "Key": key},
            CopySourceIfMatch=_NO_SUCH_ETAG,
        )
        copied.append(copy_key)

    put_if_absent = _refused(lambda: client.put_object(**put))
    copy_if_match = _refused(copy)
    delete_if_match, deleted = _conditional_delete(client, bucket, key)
    _remove(client, bucket, ([] if deleted else [key]) + copied)
    return Honoured(put_if_absent, copy_if_match, delete_if_match)


def _refused(request: Callable[[], Any]) -> bool:
    """Whether the request is refused as a failed precondition (it must be, to be honoured)."""
    try:
        request()
    except ClientError as exc:
        return exc.response.get("Error", {}).get("Code") in PRECONDITION_FAILED
    except BotoCoreError:
        return False
    return False


def _conditional_delete(client: Any, bucket: str, key: str) -> tuple[bool, bool]:
    """(whether DeleteObjects left `key` named with another ETag, whether it deleted it)."""
    objects = [{"Key": key, "ETag": _NO_SUCH_ETAG}]
    try:
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    except (ClientError, BotoCoreError):
        return False, False  # such as MalformedXML from an endpoint that knows no ETags there
    codes = [e.get("Code") for e in response.get("Errors", []) if e.get("Key") == key]
    return any(code in PRECONDITION_FAILED for code in codes), not codes


def _remove(client: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        try:
            client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not remove the probe object %s: %s", key, exc)
