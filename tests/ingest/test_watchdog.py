"""The watchdog finishes what a dead process left behind: it releases the claims nobody holds
(the next run takes those files again, once), leaves ingested files for the next run to move,
finishes the run and says so on it; it never touches a run or a file still being worked on."""

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from entities.models import Record
from ingest import ingestion, listing, runs, watchdog
from ingest.models import ConnectorLock, FileState, Run, RunStatus, SourceFile
from ingest.s3.client import client_for
from tests.support.factories import GOOD_CSV, keys, put, run_now


def later() -> Any:
    """A moment when everything done so far is older than INGEST_STALE_RUN_SECONDS."""
    return timezone.now() + timedelta(seconds=settings.INGEST_STALE_RUN_SECONDS + 1)


def claimed_then_died(connector: Any) -> Run:
    """A run that listed and claimed its files, whose worker then died before ingesting."""
    run = runs.start_run(connector, trigger="manual")
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: None)
    return Run.objects.get(pk=run.pk)


def test_claims_left_by_a_dead_worker_are_released_and_the_next_run_ingests_each_once(
    alice, connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/a.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/b.csv", GOOD_CSV.replace("\np", "\nq"))
    dead = claimed_then_died(connector)
    assert dead.status == RunStatus.RUNNING and dead.finished_at is None

    swept = watchdog.sweep(now=later())

    assert (swept.runs_finished, swept.files_released) == ([dead.pk], 2)
    dead.refresh_from_db()
    assert dead.status == RunStatus.PARTIAL and dead.finished_at is not None
    assert dead.files_seen == 0 and not SourceFile.objects.exists()
    (said,) = dead.notes
    assert said.startswith("Watchdog, ")
    assert "nothing had happened in this run for 2 hours" in said
    assert said.endswith(
        "Released 2 claimed file(s), none of it written, which the next run lists and "
        "ingests: incoming/a.csv, incoming/b.csv. It finished the run."
    )
    client = Client()
    client.force_login(alice)
    assert "Released 2 claimed file(s)" in client.get(dead.get_absolute_url()).content.decode()

    second = run_now(connector)

    assert (second.files_succeeded, second.records_created) == (2, 4)
    assert Record.objects.count() == 4
    assert keys(s3_client, bucket) == ["done/a.csv", "done/b.csv"]
    assert watchdog.sweep(now=later()).runs_finished == []


def test_files_ingested_but_not_moved_are_left_for_the_next_run_to_move(
    connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")
    client = client_for(connector)
    config = ingestion.ingest_config(connector, file_id=0)
    listing.execute_run(  # the worker commits the records, then dies before moving the file
        run.pk,
        dispatch=lambda run_id, ids: [
            ingestion.ingest_file(client, i, connector=connector, config=config) for i in ids
        ],
    )

    watchdog.sweep(now=later())

    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL and run.finished_at is not None
    assert run.files_succeeded == 1 and Record.objects.count() == 2
    assert (
        "1 file(s) ingested but not moved yet are left for the next run to move: " in (run.notes[0])
    )
    assert SourceFile.objects.get().state == FileState.INGESTED
    second = run_now(connector)
    assert second.records_created == 0 and Record.objects.count() == 2
    assert keys(s3_client, bucket) == ["done/good.csv"]


def test_a_run_no_worker_took_is_finished_as_never_started(connector) -> None:
    run = runs.start_run(connector, trigger="manual")

    watchdog.sweep(now=later())

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error == "This run never started: no worker took it (is a Celery worker running?)."
    assert run.notes[0].startswith("Watchdog, ")
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: None)  # its task, arriving late
    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED


def test_a_run_whose_process_died_while_listing_is_failed_and_its_claims_released(
    connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")

    def die_while_listing(run_id: int, ids: list[int]) -> None:
        raise SystemExit("killed")  # not an Exception: nothing catches it, as with SIGKILL

    with pytest.raises(SystemExit):
        listing.execute_run(run.pk, dispatch=die_while_listing)
    assert Run.objects.get(pk=run.pk).listed_at is None

    watchdog.sweep(now=later())

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("This run stopped while listing the source directory")
    assert not SourceFile.objects.exists()
    assert run_now(connector).files_succeeded == 1


def test_a_run_with_a_sign_of_life_within_the_time_is_left_alone(
    connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    dead = claimed_then_died(connector)
    long_ago = timezone.now() - timedelta(seconds=settings.INGEST_STALE_RUN_SECONDS + 60)
    Run.objects.filter(pk=dead.pk).update(
        queued_at=long_ago, started_at=long_ago, listed_at=long_ago
    )

    assert watchdog.sweep().runs_finished == []  # its file was claimed just now

    SourceFile.objects.update(claimed_at=long_ago)
    assert watchdog.sweep().runs_finished == [dead.pk]


def test_a_run_holding_its_listing_lock_is_left_alone(connector) -> None:
    run = runs.start_run(connector, trigger="manual")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    assert listing.acquire_lock(run)
    now = later()
    ConnectorLock.objects.update(locked_until=now + timedelta(seconds=60))

    assert watchdog.sweep(now=now).runs_finished == []


@pytest.mark.django_db(transaction=True)
def test_a_file_being_ingested_is_never_released_however_old_its_claim(
    connector, bucket, s3_client
) -> None:
    """PostgreSQL: a worker ingesting a file holds its ledger row locked (FOR UPDATE), and the
    watchdog skips locked rows. SQLite has no row locks; there the worker's IMMEDIATE
    transaction holds the whole database, and the watchdog waits for it."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises the transactions instead")
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    dead = claimed_then_died(connector)
    holding, done = threading.Event(), threading.Event()

    def worker_ingesting() -> None:
        try:
            with transaction.atomic():
                SourceFile.objects.select_for_update().get()
                holding.set()
                done.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker_ingesting)
    thread.start()
    try:
        assert holding.wait(30)
        assert watchdog.sweep(now=later()).runs_finished == []
        assert SourceFile.objects.get().state == FileState.CLAIMED
        assert Run.objects.get(pk=dead.pk).finished_at is None
    finally:
        done.set()
        thread.join()

    assert watchdog.sweep(now=later()).runs_finished == [dead.pk]  # the worker is gone
