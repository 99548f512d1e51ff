"""Files nothing expected and errors no code foresaw: a JSON file nested 100,000 levels deep,
an exception (a bug, MemoryError) while a file is parsed, written or read. That file fails
with a reason in words, nothing of it is written, it goes where failed files go, the other
files are ingested, and the run finishes."""

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connectors.aws import S3AccessError
from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import errors, ingestion, inline, listing, reading, runs
from ingest.models import FileState, Run, RunStatus, SourceFile
from tests.support.factories import GOOD_CSV, keys, make_connector, put, run_now

DEEP = 100_000
DEEP_JSON = "[" + "[" * DEEP + "]" * DEEP + "]"
FOUR_ROWS = GOOD_CSV + "p5,Edsger,Dijkstra,ed@example.com\np6,Barbara,Liskov,bl@example.com\n"


def ids_as(text: str, letter: str) -> str:
    """The file with its ids p1, p2, ... renamed <letter>1, <letter>2, ..."""
    return text.replace("\np", f"\n{letter}")


def test_the_command_reports_a_deep_file_instead_of_crashing(
    alice, bucket, s3_endpoint, s3_client, capsys
) -> None:
    make_connector(alice, bucket=bucket, endpoint=s3_endpoint, file_format="json")
    put(s3_client, bucket, "incoming/deep.json", DEEP_JSON)

    call_command("run_connector", "Profiles")

    out = capsys.readouterr().out
    assert "Completed with failed files" in out
    assert "incoming/deep.json: failed -> failed/deep.json" in out
    assert SourceFile.objects.get().state == FileState.MOVED


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


def test_an_error_reading_one_file_of_a_batch_fails_only_that_file(
    connector, bucket, s3_client, monkeypatch
) -> None:
    real = reading.open_object

    def open_or_break(client: Any, bucket: str, key: str, etag: str) -> Any:
        if "b-unreadable" in key:
            raise KeyError("ContentType")
        return real(client, bucket, key, etag)

    monkeypatch.setattr(reading, "open_object", open_or_break)
    put(s3_client, bucket, "incoming/a-good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b-unreadable.csv", ids_as(GOOD_CSV, "x"))
    put(s3_client, bucket, "incoming/c-good.csv", ids_as(GOOD_CSV, "q"))

    run = run_now(connector)

    unreadable = SourceFile.objects.get(key="incoming/b-unreadable.csv")
    assert unreadable.failure_reason.startswith(
        "an unexpected error stopped processing this file: KeyError: 'ContentType'"
    )
    assert (run.status, run.files_succeeded, run.files_failed) == (RunStatus.PARTIAL, 2, 1)
    assert Record.objects.count() == 4
    assert keys(s3_client, bucket) == [
        "done/a-good.csv",
        "done/c-good.csv",
        "failed/b-unreadable.csv",
        "failed/b-unreadable.csv.errors.txt",
    ]


def test_an_unexpected_error_while_listing_fails_the_run_with_the_reason(
    connector, bucket, s3_client, monkeypatch
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)

    def broken_listing(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug in the listing")
        yield  # a generator, as the real one is

    monkeypatch.setattr(listing, "list_pages", broken_listing)

    with pytest.raises(CommandError, match="a bug in the listing"):
        call_command("run_connector", "Profiles")

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error == (
        "An unexpected error stopped the listing: ValueError: a bug in the listing. The files "
        "it claimed are taken by the next run."
    )
    monkeypatch.undo()
    assert run_now(connector).files_succeeded == 1


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


def claimed_batch(connector: Any) -> tuple[Run, list[int]]:
    """A run that has listed and claimed its files, and the batch a task would get."""
    run = runs.start_run(connector, trigger="manual")
    batches: list[list[int]] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: batches.append(ids))
    (batch,) = batches
    return run, batch


def test_a_batch_without_an_s3_client_gives_its_files_back_and_the_run_finishes(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """Before: the batch noted the error and returned, its files stayed claimed and the run
    stayed Running until a later run took them."""
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run, batch = claimed_batch(connector)

    def no_client(params: Any) -> Any:
        raise S3AccessError("The Access Key Secret cannot be read", code="Undecryptable")

    monkeypatch.setattr(s3_source, "shared_s3_client", no_client)
    inline.process_batch(run.pk, batch)
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL and run.finished_at is not None
    assert "could not connect to S3: The Access Key Secret cannot be read" in run.notes[0]
    assert not SourceFile.objects.exists()  # given back: listed again by the next run

    monkeypatch.undo()
    again = run_now(connector)
    assert (again.status, again.files_succeeded) == (RunStatus.SUCCEEDED, 1)
    assert Record.objects.count() == 2


def test_a_batch_meeting_an_s3_outage_is_retried_by_its_task(
    connector, bucket, s3_client, monkeypatch
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run, batch = claimed_batch(connector)

    def outage(params: Any) -> Any:
        raise S3AccessError("cannot reach STS", transient=True)

    monkeypatch.setattr(s3_source, "shared_s3_client", outage)
    with pytest.raises(errors.TransientIngestError, match="cannot reach STS"):
        inline.process_batch(run.pk, batch, give_up_on_transient=False)
    assert SourceFile.objects.get().state == FileState.CLAIMED  # the retry takes it
