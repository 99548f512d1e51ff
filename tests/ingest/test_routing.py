"""Moves by the Successful/Failed Files Directory rules: where each file goes (or whether it is
deleted or kept), keeping its path; a small file whose bytes a run read is PUT where it goes
without a listing or a copy; a delete that failed is shown and retried, never ingested again;
and a failed file's error report, which never overwrites either."""

from typing import Any

import pytest

from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import tasks
from ingest.models import FileState, RunStatus, SourceFile
from ingest.s3.objects import LEDGER_META
from tests.support.factories import BAD_CSV, GOOD_CSV, good, keys, make_connector, put, run_now
from tests.support.fault_proxy import FaultProxy
from tests.support.s3_clients import wrap_clients


@pytest.mark.parametrize(
    ("success_path", "failed_path", "expected"),
    [
        # both set: success moved there, failure moved there
        ("done/", "failed/", ["done/good.csv", "failed/bad.csv", "failed/bad.csv.errors.txt"]),
        # only success set: success moved, failure stays in source
        ("done/", "", ["done/good.csv", "incoming/bad.csv"]),
        # only failed set: success deleted, failure moved
        ("", "failed/", ["failed/bad.csv", "failed/bad.csv.errors.txt"]),
        # neither: success deleted, failure stays in source
        ("", "", ["incoming/bad.csv"]),
    ],
)
def test_it_follows_the_spec_for_every_directory_combination(
    alice, bucket, s3_endpoint, s3_client, success_path, failed_path, expected
) -> None:
    connector = make_connector(
        alice,
        bucket=bucket,
        endpoint=s3_endpoint,
        success_path=success_path,
        failed_path=failed_path,
    )
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)

    run = run_now(connector)

    assert keys(s3_client, bucket) == sorted(expected)
    assert run.status == RunStatus.PARTIAL
    assert (run.files_seen, run.files_succeeded, run.files_failed) == (2, 1, 1)
    assert run.records_created == 2
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p2"}


def test_moves_keep_the_relative_path(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/2026/11/good.csv", GOOD_CSV)
    run_now(connector)
    assert keys(s3_client, bucket) == ["done/2026/11/good.csv"]


def put_with_properties(s3_client: Any, bucket: str, key: str, body: str, **extra: Any) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode(),
        ContentType="text/csv",
        ContentLanguage="en",
        ContentDisposition='attachment; filename="export.csv"',
        CacheControl="no-cache",
        Metadata={"origin": "crm-export"},
        **extra,
    )


def test_small_files_are_put_where_they_go_without_listing_or_copying(
    connector, bucket, s3_client, calls
) -> None:
    for number in range(3):
        put_with_properties(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED and run.files_succeeded == 3
    assert keys(s3_client, bucket) == [f"done/f{number}.csv" for number in range(3)]
    assert calls["copy_object"] == 1  # the probe's (see test_conditions)
    # The source listing, and the sources' ETags just before deleting them (moto ignores the
    # ETags of a DeleteObjects): no destination listing.
    assert calls["get_paginator"] == 2
    assert calls["put_object"] == 3 + 2  # the files, and the probe written twice
    assert calls["delete_objects"] == 1 + 1  # the sources; the probe's
    for number in range(3):
        moved = s3_client.head_object(Bucket=bucket, Key=f"done/f{number}.csv")
        ledger_id = str(SourceFile.objects.get(key=f"incoming/f{number}.csv").pk)
        assert moved["Metadata"] == {"origin": "crm-export", LEDGER_META: ledger_id}
        assert (moved["ContentType"], moved["ContentLanguage"], moved["CacheControl"]) == (
            "text/csv",
            "en",
            "no-cache",
        )
        assert moved["ContentDisposition"] == 'attachment; filename="export.csv"'
        body = s3_client.get_object(Bucket=bucket, Key=f"done/f{number}.csv")["Body"].read()
        assert body == good(number).encode()


class FailingDeletes:
    """The real client, except that DeleteObjects reports AccessDenied."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        objects = kwargs["Delete"]["Objects"]
        return {
            "Errors": [
                {"Key": o["Key"], "Code": "AccessDenied", "Message": "Access Denied"}
                for o in objects
            ]
        }


def test_a_failed_delete_is_shown_and_retried_never_reingested(
    connector, bucket, s3_client, monkeypatch
) -> None:
    real = s3_source.shared_s3_client
    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    monkeypatch.setattr(s3_source, "shared_s3_client", lambda params: FailingDeletes(real(params)))
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    first = run_now(connector)
    source_file = SourceFile.objects.get()
    assert first.status == RunStatus.UNMOVED
    assert source_file.state == FileState.INGESTED
    assert "AccessDenied" in source_file.route_error and source_file.route_attempts == 2

    monkeypatch.setattr(s3_source, "shared_s3_client", real)
    second = run_now(connector)
    assert second.records_created == 0 and Record.objects.count() == 2
    assert keys(s3_client, bucket) == ["done/good.csv"]
    source_file.refresh_from_db()
    assert source_file.state == FileState.MOVED and source_file.route_error == ""


# --- the error report follows the file's no-overwrite rule ----------------------------------


def breaking(proxy: FaultProxy, way: str) -> None:
    """Make the endpoint behind the proxy drop conditional writes or refuse to list failed/."""
    from tests.support.fault_proxy import Rule

    if way == "ignores-if-none-match":
        proxy.drop_headers = {"if-none-match"}
    elif way == "refuses-listing":
        proxy.rules.append(Rule("GET", "prefix=failed", "403"))
    elif way == "honours-every-condition":
        proxy.honour_conditions = True


@pytest.mark.parametrize(
    ("endpoint", "files"),
    [
        ("moto", 2),  # a batch: PUT with If-None-Match
        ("moto", 1),  # a file alone: a listing finds a free name, then a copy
        ("ignores-if-none-match", 2),  # the probe finds that out: listing and copies
        ("refuses-listing", 1),  # a HEAD per name
        ("honours-every-condition", 2),  # as AWS S3
    ],
)
def test_an_existing_error_report_is_never_overwritten(
    alice, bucket, s3_client, proxied, endpoint: str, files: int
) -> None:
    from tests.support.factories import BAD_CSV

    breaking(proxied, endpoint)
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "failed/r.csv.errors.txt", "an older report, not ours")
    put(s3_client, bucket, "incoming/r.csv", BAD_CSV)
    if files == 2:
        put(s3_client, bucket, "incoming/s.csv", good(0))
    run_now(connector)
    failed = SourceFile.objects.get(key="incoming/r.csv")
    assert s3_client.get_object(Bucket=bucket, Key="failed/r.csv.errors.txt")["Body"].read() == (
        b"an older report, not ours"
    )
    assert (failed.state, failed.destination_key) == (FileState.MOVED, f"failed/r-{failed.pk}.csv")
    assert failed.report_key == f"failed/r-{failed.pk}.csv.errors.txt"
    assert keys(s3_client, bucket, "failed/") == sorted(
        ["failed/r.csv.errors.txt", failed.destination_key, failed.report_key]
    )
    report = s3_client.get_object(Bucket=bucket, Key=failed.report_key)["Body"].read().decode()
    assert "incoming/r.csv" in report and "not-an-email" in report


class ReportNameTakenMeanwhile:
    """The real client; right after the file is written to failed/r.csv, someone else writes
    failed/r.csv.errors.txt (after the name was found free, before the report is written)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _then_take_the_report_name(self, kwargs: dict[str, Any]) -> None:
        if kwargs["Key"] == "failed/r.csv":
            put(self._client, kwargs["Bucket"], "failed/r.csv.errors.txt", "someone else's")

    def put_object(self, **kwargs: Any) -> Any:
        response = self._client.put_object(**kwargs)
        self._then_take_the_report_name(kwargs)
        return response

    def copy_object(self, **kwargs: Any) -> Any:
        response = self._client.copy_object(**kwargs)
        self._then_take_the_report_name(kwargs)
        return response


@pytest.mark.parametrize("files", [1, 2], ids=["copied", "put"])
def test_a_report_name_taken_at_the_last_moment_sends_the_file_elsewhere(
    connector, bucket, s3_client, monkeypatch, files: int
) -> None:
    from tests.support.factories import BAD_CSV

    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    wrap_clients(monkeypatch, ReportNameTakenMeanwhile)
    put(s3_client, bucket, "incoming/r.csv", BAD_CSV)
    if files == 2:
        put(s3_client, bucket, "incoming/s.csv", good(0))
    run = run_now(connector)
    failed = SourceFile.objects.get(key="incoming/r.csv")
    assert (failed.state, failed.report_key) == (
        FileState.MOVED,
        f"failed/r-{failed.pk}.csv.errors.txt",
    )
    assert keys(s3_client, bucket, "failed/") == sorted(
        ["failed/r.csv.errors.txt", failed.destination_key, failed.report_key]
    )  # our copy at failed/r.csv, whose report name was taken, was taken back
    assert s3_client.get_object(Bucket=bucket, Key="failed/r.csv.errors.txt")["Body"].read() == (
        b"someone else's"
    )
    assert run.status == RunStatus.PARTIAL  # the failed file; it is moved
