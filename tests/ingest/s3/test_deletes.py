"""Deleting the sources of moved files: each only while it holds the version ingested, by the
ETags DeleteObjects is given where the endpoint honours them, after one listing of the sources'
ETags a batch where it ignores them (moto), and plainly where it does not know conditional
deletes."""

from typing import Any

import pytest

from entities.models import Record
from ingest.models import FileState, RunStatus, SourceFile
from tests.support.crash import Crash, crash_once_at
from tests.support.factories import V1, V2, body, good, keys, put, run_now
from tests.support.s3_clients import Counting, wrap_clients


class ReplacedWhileMoving:
    """The real client, except that DeleteObjects answers as S3 does for a key whose ETag no
    longer matches (a conditional delete): the source was replaced after it was read."""

    def __init__(self, client: Any, key: str) -> None:
        self._client, self._key = client, key
        self.deletes: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        objects = kwargs["Delete"]["Objects"]
        self.deletes.extend(objects)
        others = [o for o in objects if o["Key"] != self._key]
        if others:
            self._client.delete_objects(Bucket=kwargs["Bucket"], Delete={"Objects": others})
        error = {"Key": self._key, "Code": "PreconditionFailed", "Message": "At least one..."}
        return {"Errors": [error] if len(others) < len(objects) else []}


def test_a_source_replaced_while_it_was_moved_is_not_deleted(
    connector, bucket, s3_client, monkeypatch
) -> None:
    wrapped = wrap_clients(monkeypatch, lambda c: ReplacedWhileMoving(c, "incoming/f0.csv"))
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)

    sent = [o for w in wrapped for o in w.deletes if ".loadbay-probe-" not in o["Key"]]
    etags = {f.key: f'"{f.etag}"' for f in SourceFile.objects.all()}
    assert sent and all(o["ETag"] == etags[o["Key"]] for o in sent)  # deleted only if unchanged
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f0.csv")
    assert "incoming/f0.csv" in keys(s3_client, bucket)  # left for the next run
    assert any("replaced in the source directory" in n for n in run.notes), run.notes


@pytest.mark.parametrize("files", [1, 2], ids=["copied", "put"])
def test_a_source_replaced_after_a_crash_that_followed_the_copy_is_kept_and_ingested(
    connector, bucket, s3_client, monkeypatch, files: int
) -> None:
    """Before: the next run deleted the source by an ETag the endpoint ignored, so the new
    version was lost without being ingested."""
    put(s3_client, bucket, "incoming/f.csv", V1)
    if files == 2:
        put(s3_client, bucket, "incoming/other.csv", good(0).replace("p1", "q1"))
    crash_once_at(monkeypatch, "after_copy")
    with pytest.raises(Crash):
        run_now(connector)
    put(s3_client, bucket, "incoming/f.csv", V2)  # replaced while the worker was down
    rerun = run_now(connector)

    first, second = SourceFile.objects.filter(key="incoming/f.csv").order_by("pk")
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f.csv")
    assert body(s3_client, bucket, "done/f.csv") == V1
    assert second.destination_key == f"done/f-{second.pk}.csv"
    assert body(s3_client, bucket, second.destination_key) == V2
    assert not keys(s3_client, bucket, "incoming/")
    assert set(Record.objects.values_list("external_id", flat=True)) >= {"p1", "p9"}
    assert any("replaced in the source directory" in n for n in rerun.notes), rerun.notes
    assert run_now(connector).files_seen == 0


class ReplacesAfterItsPut:
    """The real client, except that the customer replaces incoming/f0.csv once it was read and
    its bytes PUT where it goes, before the sources are deleted."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_object(self, **kwargs: Any) -> Any:
        response = self._client.put_object(**kwargs)
        if kwargs["Key"] == "done/f0.csv":
            put(self._client, kwargs["Bucket"], "incoming/f0.csv", V2)
        return response


def test_a_source_replaced_after_it_was_read_is_not_deleted(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """moto ignores the ETag in DeleteObjects: before, the new version was deleted unread."""
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    wrap_clients(monkeypatch, ReplacesAfterItsPut)
    run = run_now(connector)
    assert body(s3_client, bucket, "incoming/f0.csv") == V2
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f0.csv")
    assert any("replaced in the source directory" in n for n in run.notes), run.notes
    monkeypatch.undo()
    run_now(connector)
    assert Record.objects.filter(external_id="p9").exists()
    assert not keys(s3_client, bucket, "incoming/")


def test_the_checks_cost_one_listing_per_batch_of_small_files_on_moto(
    connector, bucket, s3_client, monkeypatch
) -> None:
    calls: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, calls))
    for number in range(3):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    assert calls["get_paginator"] == 2  # the source listing, and the sources before deleting
    assert calls["get_object"] == 3 and "head_object" not in calls
    assert calls["put_object"] == 3 + 2 and calls["copy_object"] == 1  # the files; the probe
    assert calls["delete_objects"] == 1 + 1  # the sources; the probe


class KnowsNoConditionalDeletes:
    """The real client, except that DeleteObjects with ETags is refused as malformed, as an
    endpoint that does not know conditional deletes answers."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        if any("ETag" in o for o in kwargs["Delete"]["Objects"]):
            from botocore.exceptions import ClientError

            self.refused += 1
            error = {"Error": {"Code": "MalformedXML", "Message": "The XML is not well-formed"}}
            raise ClientError(error, "DeleteObjects")
        return self._client.delete_objects(**kwargs)


def test_an_endpoint_without_conditional_deletes_gets_plain_ones(
    connector, bucket, s3_client, monkeypatch
) -> None:
    wrapped = wrap_clients(monkeypatch, KnowsNoConditionalDeletes)
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    assert sum(w.refused for w in wrapped) >= 1
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]
    assert set(SourceFile.objects.values_list("state", flat=True)) == {FileState.MOVED}
