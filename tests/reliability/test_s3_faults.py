"""S3 faults injected at the HTTP level: each one is retried or reported on the run, and after
a clean rerun every file is in exactly one place and every record exists exactly once."""

from collections.abc import Iterator
from typing import Any

import pytest

from entities.models import Record
from ingest import inline, listing, runs, tasks
from ingest.models import FileState, RunStatus, SourceFile
from tests.reliability.figures import record
from tests.support.factories import BAD_CSV, GOOD_CSV, keys, make_connector, put, run_now
from tests.support.fault_proxy import FaultProxy, Rule, fault_proxy


@pytest.fixture
def proxy(moto_url: str, settings: Any) -> Iterator[FaultProxy]:
    with fault_proxy(moto_url) as running:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        settings.S3_READ_TIMEOUT = 1
        yield running


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str, proxy: FaultProxy) -> Any:
    return make_connector(alice, bucket=bucket, endpoint=proxy.url)


def converged(s3_client: Any, bucket: str) -> None:
    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert Record.objects.count() == 2
    assert SourceFile.objects.get().state == FileState.MOVED


@pytest.mark.parametrize("action", ["503", "500", "reset", "stall"])
def test_a_passing_fault_on_read_is_retried(
    connector, proxy, bucket, s3_client, action: str
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "incoming/good.csv", action, times=2))
    run = run_now(connector)
    assert run.status == "succeeded", (run.error, run.notes)
    converged(s3_client, bucket)
    record(
        "s3_faults", f"{action} twice on GetObject", injected=proxy.rules[0].hits, outcome="retried"
    )


def test_a_lasting_outage_on_read_is_reported_and_the_file_kept(
    connector, proxy, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "incoming/good.csv", "503"))
    run = run_now(connector)
    assert any("not read this time" in note and "SlowDown" in note for note in run.notes)
    assert keys(s3_client, bucket) == ["incoming/good.csv"] and Record.objects.count() == 0
    proxy.rules.clear()
    assert run_now(connector).files_succeeded == 1
    converged(s3_client, bucket)
    record("s3_faults", "503 on every GetObject", outcome="reported, retried next run")


def test_a_listing_outage_fails_the_run_with_a_reason(connector, proxy, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "list-type=2", "500"))
    run = run_now(connector)
    assert run.status == "failed" and "InternalError" in run.error
    proxy.rules.clear()
    run_now(connector)
    converged(s3_client, bucket)
    record("s3_faults", "500 on every ListObjectsV2", outcome="run failed with reason")


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        (Rule("PUT", "done/good.csv", "403"), "AccessDenied on the copy (PUT)"),
        (Rule("POST", "?delete", "403"), "AccessDenied on DeleteObjects"),
        (Rule("POST", "?delete", "reset"), "connection reset on DeleteObjects"),
    ],
    ids=["copy-denied", "delete-denied", "delete-reset"],
)
def test_a_failed_move_is_shown_then_finished_without_ingesting_again(
    connector, proxy, bucket, s3_client, monkeypatch, rule: Rule, name: str
) -> None:
    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(rule)
    first = run_now(connector)
    source_file = SourceFile.objects.get()
    assert first.status == RunStatus.UNMOVED
    assert source_file.state == FileState.INGESTED and source_file.route_error
    assert "incoming/good.csv" in keys(s3_client, bucket)
    proxy.rules.clear()
    second = run_now(connector)
    assert second.records_created == 0
    converged(s3_client, bucket)
    record("s3_faults", name, outcome="shown on the run, moved by the next run")


# --- keys at S3's limit (the proxy refuses keys over 1,024 bytes, as AWS does) ---------------


def long_name(total: int, directory: str = "incoming/", extension: str = ".csv") -> str:
    """A key of exactly `total` bytes in `directory`."""
    return directory + "n" * (total - len(directory) - len(extension)) + extension


def test_a_suffixed_name_past_the_key_limit_is_shortened_to_fit(
    alice, bucket, s3_endpoint, proxy, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=proxy.url, success_path="done/more/")
    key = long_name(1023)
    taken = "done/more/" + key[len("incoming/") :]  # 1,024 bytes: a suffix makes it too long
    put(s3_client, bucket, key, GOOD_CSV)
    put(s3_client, bucket, taken, "someone else's file")
    run = run_now(connector)
    source_file = SourceFile.objects.get()
    assert run.status == RunStatus.SUCCEEDED, (run.status, source_file.route_error)
    moved = source_file.destination_key
    assert len(moved.encode()) <= 1024 and moved.endswith(f"-{source_file.pk}.csv")
    assert keys(s3_client, bucket) == sorted([taken, moved])
    record("s3_faults", "a suffixed name past 1,024 bytes", outcome="shortened, moved")


def test_a_failed_file_with_a_long_key_gets_a_report_that_fits(
    connector, proxy, bucket, s3_client
) -> None:
    key = long_name(1024)
    put(s3_client, bucket, key, BAD_CSV)
    run = run_now(connector)
    source_file = SourceFile.objects.get()
    assert (source_file.state, source_file.route_error) == (FileState.MOVED, "")
    assert len(source_file.report_key.encode()) <= 1024
    assert source_file.report_key == source_file.destination_key + ".errors.txt"
    assert keys(s3_client, bucket) == [source_file.destination_key, source_file.report_key]
    assert run.status == RunStatus.PARTIAL  # a failed file, moved with its report
    record("s3_faults", "an error report past 1,024 bytes", outcome="shortened, moved")


def test_a_file_whose_directories_leave_no_room_is_kept_saying_why(
    alice, bucket, s3_endpoint, proxy, s3_client, monkeypatch
) -> None:
    connector = make_connector(
        alice, bucket=bucket, endpoint=proxy.url, success_path="processed/files/done/"
    )
    key = "incoming/" + "d" * 1000 + "/a.csv"
    put(s3_client, bucket, key, GOOD_CSV)
    first = run_now(connector)
    source_file = SourceFile.objects.get()
    assert source_file.state == FileState.RETAINED
    assert "longer than S3's limit of 1,024 bytes" in source_file.route_error
    assert first.status == RunStatus.UNMOVED
    assert first.get_status_display() == "Completed, some files not moved"
    assert keys(s3_client, bucket) == [key] and Record.objects.count() == 2
    second = run_now(connector)  # neither ingested again nor tried again
    assert second.files_seen == 0 and second.status == RunStatus.SUCCEEDED
    record("s3_faults", "no name under 1,024 bytes", outcome="kept in source, said why, final")


def test_a_later_run_that_could_not_move_an_earlier_file_says_so(
    connector, proxy, bucket, s3_client, monkeypatch
) -> None:
    """The run that found the file ingested by an earlier run, and failed to move it, said
    "Succeeded": the file was the earlier run's."""
    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("PUT", "done/good.csv", "403"))
    first = run_now(connector)
    assert first.status == RunStatus.UNMOVED
    second = run_now(connector)
    assert second.status == RunStatus.UNMOVED
    assert any("incoming/good.csv" in n and "AccessDenied" in n for n in second.notes)
    proxy.rules.clear()
    third = run_now(connector)
    assert third.status == RunStatus.SUCCEEDED and third.records_created == 0
    converged(s3_client, bucket)
    record("s3_faults", "a later run failing to move an earlier file", outcome="says so")


def test_a_move_that_succeeds_when_retried_leaves_the_run_succeeded(
    connector, proxy, bucket, s3_client, monkeypatch
) -> None:
    """The run was closed after the first failed try, as if the file would not be moved."""
    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("PUT", "done/good.csv", "403", times=1))
    run = runs.start_run(connector, trigger="manual")
    claimed: list[int] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: claimed.extend(ids))
    inline.process_batch(run.pk, claimed)  # as a worker does, once the listing is done
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and proxy.rules[0].hits == 1
    assert SourceFile.objects.get().route_attempts == 1
    converged(s3_client, bucket)
    record("s3_faults", "AccessDenied on the first try of a move", outcome="retried, succeeded")
