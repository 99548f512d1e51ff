"""A batch's work as the workers' tasks do it: its files ingested and moved once, then the
moves that failed handed to the move task, which Celery retries; nobody sleeps between tries. A
batch that cannot make its S3 client, or whose owner lost access, gives its files back (or its
task retries an outage), and an unexpected error outside a file's parsing fails only that
file."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connectors.aws import S3AccessError
from connectors.paths import is_probe_key
from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import batches, errors, inline, listing, reading, runs, tasks
from ingest.errors import TransientIngestError
from ingest.models import FileState, Run, RunStatus, SourceFile
from tests.support.factories import GOOD_CSV, REFUSED, ids_as, keys, put, revoke, run_now
from tests.support.s3_clients import wrap_clients


class RefusesWritesToDone:
    """The real client, except that writing a file under done/ (a PUT or a copy; not the
    endpoint's probe) is refused with AccessDenied, the first `times` times."""

    def __init__(self, client: Any, times: int) -> None:
        self._client, self.times = client, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _refuse(self, kwargs: dict[str, Any], operation: str) -> None:
        key = kwargs["Key"]
        if key.startswith("done/") and not is_probe_key(key) and self.times > 0:
            self.times -= 1
            error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
            raise ClientError(error, operation)

    def put_object(self, **kwargs: Any) -> Any:
        self._refuse(kwargs, "PutObject")
        return self._client.put_object(**kwargs)

    def copy_object(self, **kwargs: Any) -> Any:
        self._refuse(kwargs, "CopyObject")
        return self._client.copy_object(**kwargs)


def refuse_writes_to_done(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    refusing = RefusesWritesToDone(None, times)  # one count for every client the run makes

    def wrap(client: Any) -> RefusesWritesToDone:
        refusing._client = client
        return refusing

    wrap_clients(monkeypatch, wrap)


def claimed_batch(connector: Any) -> tuple[Run, list[int]]:
    """A run that has listed and claimed its files, and the batch a task would get."""
    run = runs.start_run(connector, trigger="manual")
    handed: list[list[int]] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: handed.append(ids))
    (batch,) = handed
    return run, batch


def test_a_failed_move_is_tried_again_without_anyone_sleeping(
    connector, bucket, s3_client, monkeypatch
) -> None:
    """Before: the batch slept 0.5 s, then 2 s, between tries of a move, holding its worker."""
    sleeps: list[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)
    refuse_writes_to_done(monkeypatch, times=1)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)

    run = run_now(connector)

    assert (run.status, SourceFile.objects.get().route_attempts) == (RunStatus.SUCCEEDED, 1)
    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert sleeps == []


def test_a_batch_hands_its_failed_moves_to_the_move_task_and_its_run_waits(
    connector, bucket, s3_client, monkeypatch
) -> None:
    refuse_writes_to_done(monkeypatch, times=1)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run, batch = claimed_batch(connector)
    handed: list[tuple[int, list[int]]] = []

    batches.process_batch(run.pk, batch, retry_moves=lambda *moves: handed.append(moves))

    source_file = SourceFile.objects.get()
    assert handed == [(run.pk, [source_file.pk])]
    assert (source_file.state, source_file.route_attempts, source_file.route_error) == (
        FileState.INGESTED,
        1,
        "",  # not said yet: the file is still in hand
    )
    run.refresh_from_db()
    assert run.finished_at is None  # it waits for the move task
    tasks.move_files.apply(args=handed[0])  # as a worker runs it
    run.refresh_from_db()
    assert (run.status, Record.objects.count()) == (RunStatus.SUCCEEDED, 2)
    assert keys(s3_client, bucket) == ["done/good.csv"]


def test_a_move_failing_to_the_end_is_tried_three_times_then_its_run_says_so(
    connector, bucket, s3_client, monkeypatch
) -> None:
    refuse_writes_to_done(monkeypatch, times=100)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)

    run = run_now(connector)

    source_file = SourceFile.objects.get()
    assert (run.status, source_file.state) == (RunStatus.UNMOVED, FileState.INGESTED)
    assert source_file.route_attempts == 3  # the batch's try, then the move task's two
    assert "AccessDenied" in source_file.route_error


def test_the_move_task_retries_an_outage_and_gives_up_on_its_last_try(
    connector, bucket, s3_client, monkeypatch
) -> None:
    refuse_writes_to_done(monkeypatch, times=1)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run, batch = claimed_batch(connector)
    batches.process_batch(run.pk, batch, retry_moves=lambda *moves: None)

    def outage(params: Any) -> Any:
        raise S3AccessError("cannot reach STS", transient=True)

    monkeypatch.setattr(s3_source, "shared_s3_client", outage)
    with pytest.raises(TransientIngestError, match="cannot reach STS"):
        batches.move_batch(run.pk, batch, last_try=False)
    batches.move_batch(run.pk, batch, last_try=True)

    source_file = SourceFile.objects.get()
    assert source_file.route_error == "Could not connect to S3: cannot reach STS"
    run.refresh_from_db()
    assert run.status == RunStatus.UNMOVED


# --- a batch that cannot go on gives its files back -------------------------------------------


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


def test_a_batch_gives_its_files_back_if_access_was_revoked_after_listing(
    alice, connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")

    def revoke_then_process(run_id: int, ids: list[int]) -> None:
        revoke(alice)
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=revoke_then_process)
    run.refresh_from_db()
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    assert keys(s3_client, bucket) == ["incoming/good.csv"]  # untouched, for a later run
    assert run.status == RunStatus.PARTIAL and run.files_seen == 0
    assert run.notes == [
        f"incoming/good.csv: not read this time, will be retried next run: {REFUSED}. An "
        "administrator gives access (Django admin: Entity types → Profile → Access)."
    ]


# --- an error nobody foresaw outside a file's parsing ------------------------------------------


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
