"""Writing a file where it goes: never over an object that is not ours (one this ledger entry
wrote is ours), with the source's properties and tags, in parts when it is large; and, where the
endpoint ignores CopySourceIfMatch, a copy that may hold another version than the one ingested
is taken back and the file left for the next run."""

from typing import Any

import pytest

from entities.models import Record
from ingest import inline, listing, runs
from ingest.models import FileState, RunStatus, SourceFile
from ingest.s3.objects import LEDGER_META
from tests.support.crash import Crash, crash_once_at
from tests.support.factories import GOOD_CSV, V1, V2, body, good, keys, put, run_now
from tests.support.s3_clients import Counting, wrap_clients


def test_a_moved_file_keeps_its_content_type_and_metadata(connector, bucket, s3_client) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key="incoming/good.csv",
        Body=GOOD_CSV.encode(),
        ContentType="text/csv",
        ContentLanguage="en",
        CacheControl="no-cache",
        Metadata={"origin": "crm-export"},
    )
    run_now(connector)  # one file: copied (see test_routing for files that are PUT)
    moved = s3_client.head_object(Bucket=bucket, Key="done/good.csv")
    assert (moved["ContentType"], moved["ContentLanguage"], moved["CacheControl"]) == (
        "text/csv",
        "en",
        "no-cache",
    )
    ledger_id = str(SourceFile.objects.get(key="incoming/good.csv").pk)
    assert moved["Metadata"] == {"origin": "crm-export", LEDGER_META: ledger_id}


def test_tagged_files_are_copied_so_that_they_keep_their_tags(
    connector, bucket, s3_client, calls
) -> None:
    put(s3_client, bucket, "incoming/plain.csv", good(0))
    s3_client.put_object(
        Bucket=bucket, Key="incoming/tagged.csv", Body=good(1).encode(), Tagging="team=crm"
    )
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    tags = s3_client.get_object_tagging(Bucket=bucket, Key="done/tagged.csv")["TagSet"]
    assert tags == [{"Key": "team", "Value": "crm"}]
    assert calls["copy_object"] == 1 + 1  # the tagged file, the probe's; the other was PUT


def test_a_move_never_overwrites(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "done/good.csv", "someone else's file")
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run_now(connector)
    source_file = SourceFile.objects.get()
    assert source_file.destination_key == f"done/good-{source_file.pk}.csv"
    assert s3_client.get_object(Bucket=bucket, Key="done/good.csv")["Body"].read() == (
        b"someone else's file"
    )
    assert keys(s3_client, bucket) == sorted(["done/good.csv", source_file.destination_key])


def test_a_put_never_overwrites_and_takes_the_next_free_name(
    connector, bucket, s3_client, calls
) -> None:
    put(s3_client, bucket, "done/f0.csv", "someone else's file")
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert first.destination_key == f"done/f0-{first.pk}.csv"
    assert s3_client.get_object(Bucket=bucket, Key="done/f0.csv")["Body"].read() == (
        b"someone else's file"
    )
    assert calls["copy_object"] == 1  # the probe's


def test_a_batch_of_moves_never_overwrites_and_keeps_names_where_free(
    connector, bucket, s3_client, settings
) -> None:
    settings.INGEST_BATCH_FILES = 25
    names = [f"f{number:02d}.csv" for number in range(30)]
    for name in names[::10]:
        put(s3_client, bucket, f"done/{name}", "someone else's file")
    for number, name in enumerate(names):
        put(s3_client, bucket, f"incoming/{name}", GOOD_CSV.replace("p1", f"p1-{number}"))

    run = run_now(connector)

    assert run.files_succeeded == 30 and run.status == RunStatus.SUCCEEDED
    moved = dict(SourceFile.objects.values_list("key", "destination_key"))
    for name in names:
        occupied = name in names[::10]
        source_file = SourceFile.objects.get(key=f"incoming/{name}")
        expected = f"done/{name[:-4]}-{source_file.pk}.csv" if occupied else f"done/{name}"
        assert moved[f"incoming/{name}"] == expected
    for name in names[::10]:
        body = s3_client.get_object(Bucket=bucket, Key=f"done/{name}")["Body"].read()
        assert body == b"someone else's file"
    assert not [key for key in keys(s3_client, bucket) if key.startswith("incoming/")]


def test_a_move_interrupted_after_its_put_finds_its_own_object(
    connector, bucket, s3_client
) -> None:
    """The PUT succeeded but the ledger was not written (a crash): the next attempt finds the
    name taken by an object this ledger entry wrote, and uses it."""
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = runs.start_run(connector, trigger="manual")
    claimed: list[int] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: claimed.extend(ids))
    first = SourceFile.objects.get(key="incoming/f0.csv")
    s3_client.put_object(
        Bucket=bucket,
        Key="done/f0.csv",
        Body=good(0).encode(),
        Metadata={LEDGER_META: str(first.pk)},
    )
    inline.process_batch(run.pk, claimed)
    first.refresh_from_db()
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f0.csv")
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]


def test_large_files_move_with_a_multipart_copy(connector, bucket, s3_client, settings) -> None:
    settings.S3_MULTIPART_COPY_THRESHOLD = 1024
    settings.S3_MULTIPART_COPY_PART_SIZE = 5 * 1024 * 1024
    rows = "".join(f"id{i},First{i},Last{i},u{i}@example.com\n" for i in range(230_000))
    body = "profile_id,first_name,last_name,email\n" + rows
    assert len(body) > 2 * settings.S3_MULTIPART_COPY_PART_SIZE
    put(s3_client, bucket, "incoming/big.csv", body)
    run = run_now(connector)
    assert run.records_created == 230_000
    moved = s3_client.get_object(Bucket=bucket, Key="done/big.csv")
    assert moved["Body"].read().decode() == body
    assert moved["ETag"].strip('"').endswith("-3")  # three parts: a multipart copy


# --- a source replaced before its copy: the copy is checked where its condition is ignored ---


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
