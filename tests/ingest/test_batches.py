"""A batch's work as the workers' tasks do it: its files ingested and moved once, then the
moves that failed handed to the move task, which Celery retries; nobody sleeps between tries."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from connectors.aws import S3AccessError
from connectors.paths import is_probe_key
from connectors.sources import s3 as s3_source
from entities.models import Record
from ingest import batches, listing, runs, tasks
from ingest.errors import TransientIngestError
from ingest.models import FileState, Run, RunStatus, SourceFile
from tests.support.factories import GOOD_CSV, keys, put, run_now
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
