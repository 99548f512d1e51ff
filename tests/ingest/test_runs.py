"""Runs against moto over HTTP: the spec's file rules, the ledger, and what a run reports."""

from typing import Any

import pytest
from django.core.management import call_command

from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import ingestion, inline, listing, runs, tasks
from ingest.models import FileState, Run, RunStatus, SourceFile
from ingest.s3.client import client_for
from tests.support.factories import BAD_CSV, GOOD_CSV, keys, make_connector, put, run_now


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


def test_a_failed_file_gets_a_readable_error_report(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    report = s3_client.get_object(Bucket=bucket, Key="failed/bad.csv.errors.txt")["Body"].read()
    text = report.decode()
    assert "incoming/bad.csv" in text
    assert "line 3, column email" in text and "not-an-email" in text
    assert "Nothing from this file was written." in text


def test_an_invalid_row_fails_the_whole_file(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = run_now(connector)
    source_file = SourceFile.objects.get(run=run)
    assert source_file.outcome == "failed"
    assert not Record.objects.filter(external_id="p3").exists()
    error = source_file.row_errors.get()
    assert (error.line, error.column) == (3, "email")


def test_tolerance_writes_the_good_rows_and_reports_the_bad(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, error_tolerance="1")
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = run_now(connector)
    assert run.files_succeeded == 1 and run.records_created == 1 and run.records_failed == 1
    assert keys(s3_client, bucket) == ["done/bad.csv"]


def test_a_second_run_ingests_nothing_again(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    second = run_now(connector)
    assert second.files_seen == 0 and second.records_created == 0
    assert second.status == RunStatus.SUCCEEDED
    assert SourceFile.objects.count() == 2


def test_a_retained_failed_file_is_retried_only_when_its_content_changes(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, failed_path="")
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    assert run_now(connector).files_seen == 0
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)  # same content uploaded again
    assert run_now(connector).files_seen == 0
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV.replace("not-an-email", "b@example.com"))
    fixed = run_now(connector)
    assert fixed.files_succeeded == 1
    assert keys(s3_client, bucket) == ["done/bad.csv"]


def test_a_crash_between_commit_and_move_only_moves_next_time(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    crashed = runs.start_run(connector, trigger="manual")
    client = client_for(connector)
    config = ingestion.ingest_config(connector, file_id=0)
    # The worker commits the file's records, then dies before moving it.
    listing.execute_run(
        crashed.pk,
        dispatch=lambda run_id, ids: [
            ingestion.ingest_file(client, i, connector=connector, config=config) for i in ids
        ],
    )
    assert keys(s3_client, bucket) == ["incoming/good.csv"]
    assert SourceFile.objects.get().state == FileState.INGESTED

    retry = run_now(connector)

    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert retry.records_created == 0 and Record.objects.count() == 2
    assert SourceFile.objects.get().state == FileState.MOVED


def test_a_crash_before_commit_ingests_on_the_next_run(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    crashed = runs.start_run(connector, trigger="manual")
    listing.execute_run(crashed.pk, dispatch=lambda run_id, ids: None)  # worker never ran
    assert SourceFile.objects.get().state == FileState.CLAIMED

    retry = run_now(connector)

    assert retry.files_succeeded == 1 and Record.objects.count() == 2
    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert Run.objects.get(pk=crashed.pk).finished_at is not None


def test_moves_keep_the_relative_path(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/2026/11/good.csv", GOOD_CSV)
    run_now(connector)
    assert keys(s3_client, bucket) == ["done/2026/11/good.csv"]


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


def test_a_listing_error_fails_the_run_with_a_reason(connector, s3_client) -> None:
    connector.s3.bucket = "no-such-bucket-anywhere"
    connector.s3.save()
    run = run_now(connector)
    assert run.status == RunStatus.FAILED
    assert "bucket does not exist" in run.error


def test_a_disabled_connector_does_not_run(connector) -> None:
    connector.enabled = False
    connector.save()
    with pytest.raises(runs.RunRefused, match="disabled"):
        runs.start_run(connector, trigger="manual")
    assert runs.start_scheduled_run(connector.pk) is None


def test_the_command_runs_synchronously_and_prints_a_summary(
    connector, bucket, s3_client, capsys, monkeypatch
) -> None:
    tuned: list[bool] = []  # the command tunes its process as workers do (not this one's)
    monkeypatch.setattr(
        "ingest.management.commands.run_connector.tune_garbage_collector",
        lambda: tuned.append(True),
    )
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    call_command("run_connector", "Profiles")
    assert tuned == [True]
    out = capsys.readouterr().out
    assert "Succeeded" in out and "2 created" in out
    assert "incoming/good.csv: succeeded -> done/good.csv" in out


class SlowReadsOf:
    """A client whose GET of one key answers 503 SlowDown (a passing fault)."""

    def __init__(self, client: Any, key: str) -> None:
        self._client, self._key = client, key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Key"] == self._key:
            from botocore.exceptions import ClientError

            error = {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}
            raise ClientError(error, "GetObject")
        return self._client.get_object(**kwargs)


def test_a_batch_of_small_files_settles_each_file_on_its_own(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """One transaction for the batch, yet each file has its own fate: written, failed with
    nothing written, changed in the bucket, or (S3 throttled its read) left for next run."""
    put(s3_client, bucket, "incoming/a-good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b-bad.csv", BAD_CSV)
    put(s3_client, bucket, "incoming/c-gone.csv", GOOD_CSV.replace("p1", "p7"))
    put(s3_client, bucket, "incoming/d-replaced.csv", GOOD_CSV.replace("p1", "p8"))
    put(s3_client, bucket, "incoming/e-slow.csv", GOOD_CSV.replace("p1", "p9"))
    real = s3_source.shared_s3_client
    monkeypatch.setattr(
        s3_source,
        "shared_s3_client",
        lambda params: SlowReadsOf(real(params), "incoming/e-slow.csv"),
    )
    run = runs.start_run(connector, trigger="manual")

    def change_then_process(run_id: int, ids: list[int]) -> None:
        assert len(ids) == 5  # one batch
        s3_client.delete_object(Bucket=bucket, Key="incoming/c-gone.csv")
        put(s3_client, bucket, "incoming/d-replaced.csv", GOOD_CSV.replace("p1", "p6"))
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=change_then_process)

    files = {f.key: f for f in SourceFile.objects.all()}
    assert sorted(files) == [
        f"incoming/{n}.csv" for n in ("a-good", "b-bad", "c-gone", "d-replaced")
    ]
    assert (files["incoming/a-good.csv"].state, files["incoming/a-good.csv"].records_created) == (
        FileState.MOVED,
        2,
    )
    bad = files["incoming/b-bad.csv"]
    assert (bad.state, bad.outcome, bad.destination_key) == (
        FileState.MOVED,
        "failed",
        "failed/b-bad.csv",
    )
    assert "not-an-email" in bad.row_errors.get().reason
    assert "deleted from the bucket" in files["incoming/c-gone.csv"].failure_reason
    assert "replaced after it was listed" in files["incoming/d-replaced.csv"].failure_reason
    assert {files[k].state for k in ("incoming/c-gone.csv", "incoming/d-replaced.csv")} == {
        FileState.SUPERSEDED
    }
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p2"}
    run.refresh_from_db()
    assert (run.files_succeeded, run.files_failed, run.records_created) == (1, 1, 2)
    assert any("e-slow.csv: not read this time" in n and "SlowDown" in n for n in run.notes)

    monkeypatch.setattr(s3_source, "shared_s3_client", real)
    second = run_now(connector)
    assert (second.files_succeeded, second.records_created) == (2, 2)  # p9 and p6
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p2", "p6", "p9"}


def _spy_on_batch_writes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The `guarded` of each attempt at writing a batch of small files."""
    attempts: list[bool] = []
    real = ingestion._write_batch

    def spy(*args: Any, guarded: bool) -> Any:
        attempts.append(guarded)
        return real(*args, guarded=guarded)

    monkeypatch.setattr(ingestion, "_write_batch", spy)
    return attempts


def test_a_file_failing_after_it_wrote_leaves_nothing_and_its_batch_goes_on(
    alice, bucket, s3_endpoint, s3_client, monkeypatch
) -> None:
    """A percentage tolerance is judged at the end of the file, after its good rows were
    written: the batch, written first without a savepoint per file, is written again with
    them, and the failed file's good row is not kept."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, error_tolerance="10%")
    put(s3_client, bucket, "incoming/a-good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b-too-many-bad.csv", BAD_CSV)  # 1 of 2 rows bad
    put(s3_client, bucket, "incoming/c-good.csv", GOOD_CSV.replace("p1", "p5"))
    attempts = _spy_on_batch_writes(monkeypatch)

    run = run_now(connector)

    assert attempts == [False, True]
    assert set(Record.objects.values_list("external_id", flat=True)) == {"p1", "p2", "p5"}
    late = SourceFile.objects.get(key="incoming/b-too-many-bad.csv")
    assert (late.outcome, late.records_created) == ("failed", 0)
    assert "1 of 2 rows is invalid; the connector allows 10%" in late.failure_reason
    assert (run.files_succeeded, run.files_failed, run.records_created) == (2, 1, 3)
    assert keys(s3_client, bucket) == [
        "done/a-good.csv",
        "done/c-good.csv",
        "failed/b-too-many-bad.csv",
        "failed/b-too-many-bad.csv.errors.txt",
    ]


def test_a_batch_whose_files_fail_before_writing_takes_no_savepoint_per_file(
    connector, bucket, s3_client, monkeypatch
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name in "abcde":
        rows = GOOD_CSV.replace("p1", f"p1{name}").replace("p2", f"p2{name}")
        put(s3_client, bucket, f"incoming/{name}.csv", rows)
    put(s3_client, bucket, "incoming/f-bad.csv", BAD_CSV)  # tolerance 0: fails before writing
    attempts = _spy_on_batch_writes(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        run = run_now(connector)

    assert attempts == [False]
    savepoints = [q["sql"] for q in queries if q["sql"].startswith("SAVEPOINT")]
    # The run's own (the listing lock, the batch, its moves; this test's transaction makes
    # each atomic block a savepoint): fewer than one a file.
    assert len(savepoints) < 6
    assert (run.files_succeeded, run.files_failed, run.records_created) == (5, 1, 10)
    assert Record.objects.count() == 10
