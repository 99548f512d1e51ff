"""Endpoints that ignore request conditions (moto ignores CopySourceIfMatch and the ETags in
DeleteObjects; some S3-compatible stores ignore If-Match on GET too): nothing that was not
ingested is deleted, or moved as if it had been, and each version is ingested exactly once."""

from collections.abc import Iterator
from typing import Any

import pytest

from entities.models import Record
from ingest import faults, inline, listing, runs
from ingest.models import FileState, Run, RunStatus, SourceFile
from ingest.s3 import conditions
from ingest.s3.conditions import Honoured
from tests.ingest.test_routing import good, run_now
from tests.support.factories import keys, make_connector, put
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.s3_clients import Counting, wrap_clients

V1 = "profile_id,first_name,last_name,email\np1,Ada,Lovelace,ada@example.com\n"
V2 = V1 + "p9,Grace,Hopper,grace@example.com\n"  # the customer's new version: p9 is in it only


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Any:
    return make_connector(alice, bucket=bucket, endpoint=s3_endpoint)


@pytest.fixture
def proxied(moto_url: str, s3_endpoint: str, settings: Any) -> Iterator[FaultProxy]:
    with fault_proxy(moto_url) as running:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        yield running


def body(s3_client: Any, bucket: str, key: str) -> str:
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


# --- the probe ------------------------------------------------------------------------------


def test_the_probe_finds_what_moto_honours(bucket, s3_client) -> None:
    found = conditions.endpoint_conditions(s3_client, bucket, "done/")
    assert found == Honoured(put_if_absent=True, copy_if_match=False, delete_if_match=False)
    assert keys(s3_client, bucket) == []  # its objects are removed


def test_the_probe_finds_what_an_aws_like_endpoint_honours(bucket, proxied) -> None:
    import boto3

    proxied.honour_conditions = True
    client = boto3.client(
        "s3",
        endpoint_url=proxied.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    found = conditions.endpoint_conditions(client, bucket, "done/")
    assert found == Honoured(put_if_absent=True, copy_if_match=True, delete_if_match=True)
    assert keys(client, bucket) == []


def test_it_is_probed_once_per_client_and_directory(bucket, s3_client) -> None:
    calls: dict[str, int] = {}
    counting = Counting(s3_client, calls)
    for _ in range(3):
        assert conditions.honours_conditional_writes(counting, bucket, "done/") is True
        conditions.endpoint_conditions(counting, bucket, "done/")
    assert calls == {"put_object": 2, "copy_object": 1, "delete_objects": 1, "delete_object": 1}


def test_threads_asking_at_once_share_one_probe(bucket, s3_client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    calls: dict[str, int] = {}
    counting = Counting(s3_client, calls)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: conditions.honours_conditional_writes(counting, bucket, "done/"),
                range(8),
            )
        )
    assert answers == [True] * 8
    assert calls == {"put_object": 2, "copy_object": 1, "delete_objects": 1, "delete_object": 1}


def test_with_conditional_writes_off_nothing_is_probed_and_nothing_relied_on(
    bucket, s3_client, settings
) -> None:
    settings.S3_CONDITIONAL_WRITES = "off"
    calls: dict[str, int] = {}
    found = conditions.endpoint_conditions(Counting(s3_client, calls), bucket, "done/")
    assert found == Honoured(put_if_absent=False, copy_if_match=False, delete_if_match=False)
    assert calls == {}


# --- a worker that dies, and a source replaced before it comes back ---------------------------


class Crash(BaseException):
    """The worker dying at a fault point (in-process, so the test can go on; a BaseException
    as nothing in a dying process catches its death)."""


def crash_once_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    fired: list[str] = []

    def checkpoint(name: str) -> None:
        if name == point and not fired:
            fired.append(name)
            raise Crash(name)

    monkeypatch.setattr(faults, "checkpoint", checkpoint)


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


def test_a_source_replaced_after_a_crash_that_followed_the_commit_is_not_moved_as_ingested(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """Before: the next run copied the new version under the old ledger entry (the endpoint
    ignored CopySourceIfMatch), then deleted it: it was never ingested."""
    put(s3_client, bucket, "incoming/f.csv", V1)
    crash_once_at(monkeypatch, "after_commit")
    with pytest.raises(Crash):
        run_now(connector)
    put(s3_client, bucket, "incoming/f.csv", V2)
    rerun = run_now(connector)

    first, second = SourceFile.objects.filter(key="incoming/f.csv").order_by("pk")
    assert first.state == FileState.SUPERSEDED and first.destination_key == ""
    assert (second.state, second.destination_key) == (FileState.MOVED, "done/f.csv")
    assert body(s3_client, bucket, "done/f.csv") == V2  # the copy of V2 made for V1 is gone
    assert keys(s3_client, bucket) == ["done/f.csv"]
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p9"}
    assert rerun.files_succeeded == 1
    assert run_now(connector).files_seen == 0


# --- a source replaced while it is read or copied -----------------------------------------------


def test_a_file_replaced_before_it_is_read_where_if_match_is_ignored_is_left_for_next_run(
    alice, bucket, s3_client, proxied
) -> None:
    """Before: the new version was read and ingested under the old version's ledger entry;
    an endpoint that honours the delete's ETag then left it, and it was ingested again."""
    proxied.drop_headers = {"if-match"}
    proxied.honour_conditions = True  # deletes by ETag, as AWS S3 does
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "incoming/f.csv", V1)
    run = runs.start_run(connector, trigger="manual")

    def replace_then_process(run_id: int, ids: list[int]) -> None:
        put(s3_client, bucket, "incoming/f.csv", V2)
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=replace_then_process)
    assert SourceFile.objects.get().state == FileState.SUPERSEDED
    assert Record.objects.count() == 0
    assert run_now(connector).records_created == 2
    assert run_now(connector).files_seen == 0
    assert keys(s3_client, bucket) == ["done/f.csv"] and body(s3_client, bucket, "done/f.csv") == V2


class ReplacesBeforeCopying:
    """The real client, except that the customer replaces the source just before our copy."""

    def __init__(self, client: Any, operation: str) -> None:
        self._client, self._operation, self.replaced = client, operation, False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def replacing_first(**kwargs: Any) -> Any:
            if not self.replaced and "loadbay-probe" not in kwargs["Key"]:
                self.replaced = True
                bucket = kwargs["Bucket"]
                self._client.put_object(Bucket=bucket, Key="incoming/f.csv", Body=V2.encode())
            return attribute(**kwargs)

        return replacing_first


@pytest.mark.parametrize("operation", ["copy_object", "upload_part_copy"])
def test_a_source_replaced_just_before_its_copy_is_left_for_the_next_run(
    connector, bucket, s3_client, monkeypatch, settings, operation: str
) -> None:
    if operation == "upload_part_copy":
        settings.S3_MULTIPART_COPY_THRESHOLD = 10  # this small file is copied in parts
    wrapped = wrap_clients(monkeypatch, lambda c: ReplacesBeforeCopying(c, operation))
    put(s3_client, bucket, "incoming/f.csv", V1)
    first_run = run_now(connector)
    assert any(w.replaced for w in wrapped)
    first = SourceFile.objects.get()
    assert (first.state, first.destination_key) == (FileState.SUPERSEDED, "")
    assert keys(s3_client, bucket) == ["incoming/f.csv"]  # the copy of V2 was taken back
    assert first_run.status != RunStatus.UNMOVED
    run_now(connector)
    second = SourceFile.objects.exclude(pk=first.pk).get()
    assert (second.state, second.destination_key) == (FileState.MOVED, "done/f.csv")
    assert body(s3_client, bucket, "done/f.csv") == V2
    assert Record.objects.filter(external_id="p9").exists()


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


def test_nothing_extra_is_asked_of_an_endpoint_that_honours_the_conditions(
    alice, bucket, s3_client, proxied, monkeypatch
) -> None:
    proxied.honour_conditions = True
    calls: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, calls))
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "incoming/big.csv", V1)  # alone: copied
    run_now(connector)
    assert calls["get_paginator"] == 2  # the source listing, the destination's
    assert "head_object" not in calls
    assert keys(s3_client, bucket) == ["done/big.csv"]
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_a_copy_of_another_version_left_by_a_crash_before_its_check_is_taken_back(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """An attempt copied the new version under the old ledger entry and died before checking
    the copy: the next attempt finds the copy as its own, checks it, and takes it back."""
    from ingest.s3.objects import LEDGER_META

    put(s3_client, bucket, "incoming/f.csv", V1)
    crash_once_at(monkeypatch, "after_commit")
    with pytest.raises(Crash):
        run_now(connector)
    first = SourceFile.objects.get()
    put(s3_client, bucket, "incoming/f.csv", V2)
    s3_client.put_object(
        Bucket=bucket, Key="done/f.csv", Body=V2.encode(), Metadata={LEDGER_META: str(first.pk)}
    )
    run_now(connector)
    first.refresh_from_db()
    second = SourceFile.objects.exclude(pk=first.pk).get()
    assert first.state == FileState.SUPERSEDED
    assert (second.state, second.destination_key) == (FileState.MOVED, "done/f.csv")
    moved = s3_client.head_object(Bucket=bucket, Key="done/f.csv")
    assert moved["Metadata"][LEDGER_META] == str(second.pk)
    assert keys(s3_client, bucket) == ["done/f.csv"]


def test_a_multipart_uploads_copy_with_another_etag_is_checked_by_its_source(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """A copy's ETag differs from a multipart upload's: a HEAD of the source settles it."""
    upload = s3_client.create_multipart_upload(Bucket=bucket, Key="incoming/f.csv")
    part = s3_client.upload_part(
        Bucket=bucket,
        Key="incoming/f.csv",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=V1.encode(),
    )
    s3_client.complete_multipart_upload(
        Bucket=bucket,
        Key="incoming/f.csv",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    calls: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, calls))
    run = run_now(connector)
    assert SourceFile.objects.get().etag.endswith("-1")
    assert run.status == RunStatus.SUCCEEDED and keys(s3_client, bucket) == ["done/f.csv"]
    assert calls["head_object"] == 1
