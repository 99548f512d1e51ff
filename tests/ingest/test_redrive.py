"""Retrying failed files: from the Failed Files Directory and from the source directory, each
ingested once and routed by the spec's rules, with the ledger and the records checked; retries
asked for twice at once, of a file changed or gone, and refused."""

import threading
from typing import Any

import pytest
from django.db import connection, connections

from entities.models import Record
from ingest import inline, redrive, runs
from ingest.models import FileState, FileVerdict, Run, RunStatus, RunTrigger, SourceFile
from ingest.runs import RunRefused
from tests.support.factories import BAD_CSV, GOOD_CSV, keys, make_connector, put, revoke


def failed_file(connector: Any, s3_client: Any, bucket: str, user: Any) -> SourceFile:
    """bad.csv run through the connector and failed (its row p4 has a bad email)."""
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    inline.run_inline(runs.start_run(connector, trigger="manual", user=user))
    failed = SourceFile.objects.get(connector=connector, key="incoming/bad.csv")
    assert failed.outcome == FileVerdict.FAILED
    return failed


def tolerate_one_bad_row(connector: Any) -> None:
    """The customer's fix: the connector now writes the good rows of a file with one bad row."""
    connector.error_tolerance = "1"
    connector.save()


def retry(connector: Any, files: Any, user: Any) -> Run:
    return inline.retry_inline(redrive.request_retry(connector, files, user=user))


def p3_records() -> int:
    return Record.objects.filter(external_id="p3").count()


def test_a_file_moved_to_the_failed_directory_is_retried_from_there_and_moved_as_a_success(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)
    assert failed.destination_key == "failed/bad.csv" and p3_records() == 0
    tolerate_one_bad_row(connector)

    run = retry(connector, SourceFile.objects.filter(pk=failed.pk), alice)

    assert (run.trigger, run.triggered_by, run.status) == (
        RunTrigger.RETRY,
        alice,
        RunStatus.SUCCEEDED,
    )
    assert (run.files_seen, run.files_succeeded, run.records_created) == (1, 1, 1)
    entry = SourceFile.objects.get(run=run)
    assert (entry.key, entry.etag, entry.attempt, entry.retry_of_id) == (
        "failed/bad.csv",
        failed.etag,
        1,
        failed.pk,
    )
    assert (entry.outcome, entry.state, entry.destination_key) == (
        FileVerdict.SUCCEEDED,
        FileState.MOVED,
        "done/bad.csv",
    )
    failed.refresh_from_db()
    assert failed.retry_run_id == run.pk and failed.state == FileState.MOVED  # kept as it was
    assert keys(s3_client, bucket) == ["done/bad.csv", "failed/bad.csv.errors.txt"]
    assert p3_records() == 1

    with pytest.raises(RunRefused, match="no failed file to retry"):
        redrive.request_retry(connector, SourceFile.objects.filter(pk=failed.pk), user=alice)
    later = inline.run_inline(runs.start_run(connector, trigger="manual"))
    assert later.files_seen == 0 and p3_records() == 1
    assert SourceFile.objects.filter(connector=connector).count() == 2


@pytest.mark.parametrize(
    ("success_path", "where_after"),
    [("done/", ["done/bad.csv"]), ("", [])],
    ids=["moved-to-successful", "deleted-without-successful"],
)
def test_a_file_kept_in_the_source_directory_is_retried_there_and_routed_by_the_rules(
    alice, bucket, s3_endpoint, s3_client, success_path, where_after
) -> None:
    connector = make_connector(
        alice, bucket=bucket, endpoint=s3_endpoint, success_path=success_path, failed_path=""
    )
    failed = failed_file(connector, s3_client, bucket, alice)
    assert failed.state == FileState.RETAINED
    assert keys(s3_client, bucket) == ["incoming/bad.csv"]
    tolerate_one_bad_row(connector)

    run = retry(connector, SourceFile.objects.filter(run=failed.run), alice)

    entry = SourceFile.objects.get(run=run)
    assert (entry.key, entry.attempt, entry.retry_of_id) == ("incoming/bad.csv", 1, failed.pk)
    assert entry.outcome == FileVerdict.SUCCEEDED
    assert entry.state == (FileState.MOVED if success_path else FileState.DELETED)
    assert keys(s3_client, bucket) == where_after
    assert p3_records() == 1 and run.status == RunStatus.SUCCEEDED
    assert inline.run_inline(runs.start_run(connector, trigger="manual")).files_seen == 0
    assert p3_records() == 1


def test_a_file_that_fails_again_is_moved_within_the_failed_directory_and_may_be_retried_again(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)

    run = retry(connector, SourceFile.objects.filter(pk=failed.pk), alice)

    entry = SourceFile.objects.get(run=run)
    assert run.status == RunStatus.PARTIAL and entry.outcome == FileVerdict.FAILED
    assert entry.destination_key == f"failed/bad-{entry.pk}.csv"
    assert keys(s3_client, bucket) == sorted(
        [
            "failed/bad.csv.errors.txt",  # the first failure's report stays
            f"failed/bad-{entry.pk}.csv",
            f"failed/bad-{entry.pk}.csv.errors.txt",
        ]
    )
    assert p3_records() == 0
    assert list(redrive.retryable(SourceFile.objects.all())) == [entry]
    tolerate_one_bad_row(connector)

    again = retry(connector, SourceFile.objects.filter(pk=entry.pk), alice)

    last = SourceFile.objects.get(run=again)
    # Named by its path in the Failed Files Directory, suffix included.
    assert (last.attempt, last.retry_of_id) == (2, entry.pk)
    assert last.destination_key == f"done/bad-{entry.pk}.csv"
    assert p3_records() == 1


def test_a_file_fixed_and_put_back_in_the_source_is_still_ingested_by_its_new_etag(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, failed_path="")
    failed = failed_file(connector, s3_client, bucket, alice)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV.replace("not-an-email", "p4@example.com"))

    run = inline.run_inline(runs.start_run(connector, trigger="manual"))

    assert (run.files_seen, run.files_succeeded, run.records_created) == (1, 1, 2)
    entry = SourceFile.objects.get(run=run)
    assert entry.etag != failed.etag and entry.attempt == 0 and entry.retry_of is None
    assert keys(s3_client, bucket) == ["done/bad.csv"]
    # The failed version is gone: a retry of it says so and ingests nothing else.
    refused = retry(connector, SourceFile.objects.filter(pk=failed.pk), alice)
    assert refused.status == RunStatus.FAILED
    assert "incoming/bad.csv: not retried: it is no longer in the bucket" in refused.error
    assert p3_records() == 1


def test_a_file_changed_in_the_failed_directory_is_not_retried_and_the_run_says_why(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)
    put(s3_client, bucket, "failed/bad.csv", GOOD_CSV)  # something else under its name

    run = retry(connector, SourceFile.objects.filter(pk=failed.pk), alice)

    assert run.status == RunStatus.FAILED
    assert "failed/bad.csv: not retried: it changed since it failed" in run.error
    assert f"not {failed.etag}" in run.error
    assert not SourceFile.objects.filter(run=run).exists()
    assert Record.objects.count() == 0  # neither the changed file's records nor the failed's
    # The claim ends with the run: it may be asked again (and says the same).
    assert list(redrive.retryable(SourceFile.objects.all())) == [failed]


def test_a_file_gone_from_the_failed_directory_is_not_retried(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)
    s3_client.delete_object(Bucket=bucket, Key="failed/bad.csv")

    run = retry(connector, SourceFile.objects.filter(pk=failed.pk), alice)

    assert run.status == RunStatus.FAILED
    assert run.error == "failed/bad.csv: not retried: it is no longer in the bucket."


def test_a_second_retry_of_a_file_being_retried_is_refused(alice, connector, bucket, s3_client):
    failed = failed_file(connector, s3_client, bucket, alice)
    files = SourceFile.objects.filter(pk=failed.pk)
    first = redrive.request_retry(connector, files, user=alice)

    with pytest.raises(RunRefused, match="no failed file to retry"):
        redrive.request_retry(connector, files, user=alice)

    assert Run.objects.filter(trigger=RunTrigger.RETRY).count() == 1
    assert SourceFile.objects.get(pk=failed.pk).retry_run_id == first.pk


def test_a_claim_read_before_another_request_took_the_file_takes_nothing(
    alice, connector, bucket, s3_client, monkeypatch
) -> None:
    """Two requests read the file as retryable; the second's conditional UPDATE finds the
    first's claim and claims nothing."""
    failed = failed_file(connector, s3_client, bucket, alice)
    files = SourceFile.objects.filter(pk=failed.pk)
    seen = redrive.claimable(files)
    assert seen == [(failed.pk, None)]
    first = redrive.request_retry(connector, files, user=alice)
    monkeypatch.setattr(redrive, "claimable", lambda _files: seen)  # read before the first

    with pytest.raises(RunRefused, match="being retried by another run already"):
        redrive.request_retry(connector, files, user=alice)

    assert list(Run.objects.filter(trigger=RunTrigger.RETRY)) == [first]


def test_a_retry_task_delivered_twice_ingests_the_file_once(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)
    tolerate_one_bad_row(connector)
    run = redrive.request_retry(connector, SourceFile.objects.filter(pk=failed.pk), user=alice)
    handed: list[list[int]] = []

    def died_after_dispatch(run_id: int, file_ids: list[int]) -> None:
        handed.append(file_ids)
        raise SystemExit("the worker died")

    with pytest.raises(SystemExit):
        redrive.execute_retry(run.pk, dispatch=died_after_dispatch)
    finished = inline.retry_inline(run)  # redelivered

    entries = SourceFile.objects.filter(retry_of=failed)
    assert entries.count() == 1 and handed == [[entries.get().pk]]
    assert finished.status == RunStatus.SUCCEEDED and finished.records_created == 1
    assert inline.retry_inline(run).records_created == 1  # delivered once more: nothing
    assert p3_records() == 1


@pytest.mark.django_db(transaction=True)
def test_retries_asked_for_at_the_same_time_take_the_file_once(
    alice, connector, bucket, s3_client
) -> None:
    """PostgreSQL: two requests (two users' clicks) race; the row's conditional UPDATE lets
    one claim the file, the other is refused."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL; SQLite serialises them")
    failed = failed_file(connector, s3_client, bucket, alice)
    tolerate_one_bad_row(connector)
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def click() -> None:
        try:
            barrier.wait(10)
            outcomes.append(
                redrive.request_retry(
                    connector, SourceFile.objects.filter(pk=failed.pk), user=alice
                )
            )
        except RunRefused as exc:
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    started = [o for o in outcomes if isinstance(o, Run)]
    assert len(started) == 1 and len(outcomes) == 4, outcomes
    assert Run.objects.filter(trigger=RunTrigger.RETRY).count() == 1
    inline.retry_inline(started[0])
    assert SourceFile.objects.filter(retry_of=failed).count() == 1 and p3_records() == 1


def test_a_retry_of_a_disabled_connector_or_a_revoked_owner_is_refused(
    alice, connector, bucket, s3_client
) -> None:
    failed = failed_file(connector, s3_client, bucket, alice)
    files = SourceFile.objects.filter(pk=failed.pk)
    connector.enabled = False
    connector.save()
    with pytest.raises(RunRefused, match="is disabled; enable it to run it"):
        redrive.request_retry(connector, files, user=alice)
    connector.enabled = True
    connector.save()
    revoke(alice)
    with pytest.raises(RunRefused, match="may not write into Profile"):
        redrive.request_retry(connector, files, user=alice)
    assert not Run.objects.filter(trigger=RunTrigger.RETRY).exists()
    assert SourceFile.objects.get(pk=failed.pk).retry_run_id is None
