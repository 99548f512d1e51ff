"""A file's transaction, or the one a batch of small files shares: each file's fate is its own
(written; failed with nothing of it written, whatever failed it: its rows, Sync's deletion
limit, an error nobody foresaw; or changed in the bucket since it was listed), a batch locks its
entity type once, and an error that is not the file's fault is left for the task to retry."""

from typing import Any

import pytest

from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import batches, ingestion, inline, listing, runs
from ingest.models import FileState, RunStatus, SourceFile
from tests.support.factories import (
    BAD_CSV,
    GOOD_CSV,
    good,
    ids_as,
    keys,
    make_connector,
    put,
    run_now,
)


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


def test_a_batch_of_files_locks_their_entity_type_once(connector, bucket, s3_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for number in range(3):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    with CaptureQueriesContext(connection) as queries:
        run = run_now(connector)
    assert run.files_succeeded == 3
    locks = [  # the writer's lock (FOR KEY SHARE on PostgreSQL; SQLite has no row locks)
        q
        for q in queries
        if '"entities_entitytype"' in q["sql"]
        and q["sql"].split()[1] in {"CURRENT_TIMESTAMP", "NULL"}
    ]
    assert len(locks) == 1, locks


def test_a_batch_for_an_entity_that_is_gone_fails_each_file_saying_so(
    connector, bucket, s3_client, monkeypatch
) -> None:
    from dataclasses import replace

    real = ingestion.ingest_config  # which a batch reads once
    gone = lambda connector, file_id: replace(real(connector, file_id), entity_type_id=999_999)  # noqa: E731
    monkeypatch.setattr(batches, "ingest_config", gone)
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run_now(connector)
    reasons = set(SourceFile.objects.values_list("failure_reason", flat=True))
    assert reasons == {"the entity (id 999999) this connector writes into no longer exists"}


# --- errors nobody foresaw: the file fails, nothing of it is written, the others are -------


FOUR_ROWS = GOOD_CSV + "p5,Edsger,Dijkstra,ed@example.com\np6,Barbara,Liskov,bl@example.com\n"


def enable_raising_fault(settings: Any, key: str) -> None:
    settings.INGEST_FAULT_POINT = "mid_parse"
    settings.INGEST_FAULT_ACTION = "raise"
    settings.INGEST_FAULT_KEY = key


UNEXPECTED = (
    "an unexpected error stopped processing this file: InjectedFault: fault injected at "
    "mid_parse (INGEST_FAULT_POINT, tests only); nothing from it was written."
)


@pytest.mark.parametrize("files_a_batch", [50, 1], ids=["in a batch", "each alone"])
def test_an_error_raised_mid_parse_fails_that_file_and_the_others_are_written(
    connector, bucket, s3_client, settings, files_a_batch
) -> None:
    settings.INGEST_BATCH_FILES = files_a_batch
    enable_raising_fault(settings, key="b-faulty")
    put(s3_client, bucket, "incoming/a-good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b-faulty.csv", ids_as(FOUR_ROWS, "x"))
    put(s3_client, bucket, "incoming/c-good.csv", ids_as(FOUR_ROWS, "q"))

    run = run_now(connector)

    faulty = SourceFile.objects.get(key="incoming/b-faulty.csv")
    assert faulty.outcome == "failed" and faulty.failure_reason.startswith(UNEXPECTED)
    assert (run.status, run.files_succeeded, run.files_failed) == (RunStatus.PARTIAL, 2, 1)
    assert run.finished_at is not None
    assert sorted(Record.objects.values_list("external_id", flat=True)) == [
        "p1",
        "p2",
        "q1",
        "q2",
        "q5",
        "q6",
    ]
    assert keys(s3_client, bucket) == [
        "done/a-good.csv",
        "done/c-good.csv",
        "failed/b-faulty.csv",
        "failed/b-faulty.csv.errors.txt",
    ]
    report = s3_client.get_object(Bucket=bucket, Key="failed/b-faulty.csv.errors.txt")
    assert "InjectedFault" in report["Body"].read().decode()


def test_a_big_file_that_raises_mid_parse_fails_and_the_run_finishes(
    connector, bucket, s3_client, settings
) -> None:
    enable_raising_fault(settings, key="big")
    rows = "".join(f"b{i},First,Last,b{i}@example.com\n" for i in range(30_000))
    put(s3_client, bucket, "incoming/big.csv", "profile_id,first_name,last_name,email\n" + rows)
    settings.INGEST_BATCH_BYTES = 64 * 1024  # the big file goes alone, streamed

    run = run_now(connector)

    assert run.status == RunStatus.PARTIAL and run.files_failed == 1
    assert SourceFile.objects.get().failure_reason.startswith(UNEXPECTED)
    assert Record.objects.count() == 0
    assert keys(s3_client, bucket) == ["failed/big.csv", "failed/big.csv.errors.txt"]


@pytest.mark.parametrize("files_a_batch", [50, 1], ids=["in a batch", "each alone"])
def test_an_error_after_a_file_wrote_its_records_leaves_none_of_them(
    connector, bucket, s3_client, settings, monkeypatch, files_a_batch
) -> None:
    """Unguarded in a batch, the writer's rows cannot be told apart from the other files':
    the batch is written again with a savepoint per file."""
    settings.INGEST_BATCH_FILES = files_a_batch
    real = ingestion._write_rows

    def write_then_break(body: Any, source_file: SourceFile, config: Any) -> Any:
        outcome = real(body, source_file, config)
        if "b-breaks" in source_file.key:
            raise RuntimeError("a bug after the records were written")
        return outcome

    monkeypatch.setattr(ingestion, "_write_rows", write_then_break)
    put(s3_client, bucket, "incoming/a-good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b-breaks.csv", ids_as(GOOD_CSV, "x"))
    put(s3_client, bucket, "incoming/c-good.csv", ids_as(GOOD_CSV, "q"))

    run = run_now(connector)

    broken = SourceFile.objects.get(key="incoming/b-breaks.csv")
    assert broken.failure_reason.startswith(
        "an unexpected error stopped processing this file: RuntimeError: a bug after the "
        "records were written; nothing from it was written."
    )
    assert (broken.records_created, run.files_succeeded, run.records_created) == (0, 2, 4)
    assert sorted(Record.objects.values_list("external_id", flat=True)) == [
        "p1",
        "p2",
        "q1",
        "q2",
    ]
    assert "failed/b-breaks.csv" in keys(s3_client, bucket)


def test_a_database_error_is_left_for_the_task_to_retry(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """Transient errors are not the file's fault: they reach the task, which retries."""
    from django.db import OperationalError

    def database_gone(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(ingestion, "_write_rows", database_gone)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")

    with pytest.raises(OperationalError):
        listing.execute_run(run.pk, dispatch=inline.process_batch)

    assert SourceFile.objects.get().state == FileState.CLAIMED  # for the retry, or next run


# --- Sync's deletion limit, through a run ------------------------------------------------------


THOUSAND = "profile_id,first_name\n" + "".join(f"s{n},First\n" for n in range(1000))


@pytest.fixture
def syncing(alice, bucket, s3_endpoint, s3_client) -> Any:
    """alice's Sync connector (limit 10%), which has written 1,000 records."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, integration_type="sync")
    put(s3_client, bucket, "incoming/all.csv", THOUSAND)
    assert inline.run_inline(runs.start_run(connector, trigger="manual")).records_created
    return connector


def test_a_sync_file_over_the_limit_fails_by_the_file_rules_and_says_how_many(
    syncing, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/truncated.csv", "profile_id,first_name\ns0,Changed\n")
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    reason = (
        "Sync would remove 999 of the 1,000 records this connector wrote (99.9%), more than "
        "its limit of 10%; nothing from this file was written"
    )
    assert (run.files_failed, run.records_deleted, run.records_updated) == (1, 0, 0)
    assert SourceFile.objects.get(key="incoming/truncated.csv").failure_reason == reason
    assert Record.objects.count() == 1000
    assert Record.objects.get(external_id="s0").data["first_name"] == "First"
    assert "failed/truncated.csv" in keys(s3_client, bucket, "failed/")
    report = s3_client.get_object(Bucket=bucket, Key="failed/truncated.csv.errors.txt")
    assert reason in report["Body"].read().decode()


def test_in_a_batch_the_file_over_the_limit_fails_alone(syncing, bucket, s3_client) -> None:
    """Small files share a transaction: the failing file's writes are undone, the next file's
    are kept."""
    put(s3_client, bucket, "incoming/a-truncated.csv", "profile_id,first_name\ns0,Changed\n")
    put(s3_client, bucket, "incoming/b-whole.csv", THOUSAND.replace("s999,First\n", ""))
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    assert (run.files_succeeded, run.files_failed, run.records_deleted) == (1, 1, 1)
    failed = SourceFile.objects.get(key="incoming/a-truncated.csv")
    assert failed.state == FileState.MOVED and "remove 999 of the 1,000" in failed.failure_reason
    assert Record.objects.count() == 999
    assert Record.objects.get(external_id="s0").data["first_name"] == "First"


def test_a_limit_of_100_percent_lets_the_file_through(syncing, bucket, s3_client) -> None:
    syncing.sync_delete_limit_percent = 100
    syncing.save()
    put(s3_client, bucket, "incoming/one.csv", "profile_id,first_name\ns0,Changed\n")
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    assert (run.files_succeeded, run.records_deleted) == (1, 999)
    assert list(Record.objects.values_list("external_id", flat=True)) == ["s0"]
