"""The database goes away mid-run (every connection of the worker is terminated): the run fails
cleanly or retries, and the next run completes; nothing is lost or written twice."""

import time
from typing import Any

import pytest
from django.db import connection

from entities.models import Record
from ingest import runs, tasks
from ingest.models import FileState, Run, RunTrigger, SourceFile
from tests.reliability.figures import record
from tests.support.celery_worker import wait_for
from tests.support.factories import keys, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROWS = 120_000


def terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def all_moved() -> bool:
    return (
        SourceFile.objects.exists()
        and not SourceFile.objects.exclude(state=FileState.MOVED).exists()
    )


def test_a_database_outage_mid_run_loses_and_duplicates_nothing(
    worker: Any, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    rows = "".join(f"id{i},First{i},Last{i},u{i}@example.com\n" for i in range(ROWS))
    put(s3_client, bucket, "incoming/big.csv", "profile_id,first_name,last_name,email\n" + rows)
    put(
        s3_client,
        bucket,
        "incoming/small.csv",
        "profile_id,first_name,last_name,email\nsmall1,A,B,a@example.com\n",
    )
    run = runs.start_run(connector, trigger=RunTrigger.MANUAL)
    tasks.run_connector.delay(run.pk)

    wait_for(lambda: SourceFile.objects.filter(run=run).exists(), what="files to be claimed")
    time.sleep(0.5)  # the worker is now writing big.csv's records
    killed = terminate_other_connections()
    assert killed >= 1

    deadline = time.monotonic() + 90
    while not all_moved() and time.monotonic() < deadline:
        if Run.objects.filter(connector=connector, finished_at__isnull=True).count() == 0:
            rerun = runs.start_run(connector, trigger=RunTrigger.MANUAL)
            tasks.run_connector.delay(rerun.pk)
        time.sleep(1)
    assert all_moved(), list(SourceFile.objects.values_list("key", "state", "route_error"))
    assert Record.objects.count() == ROWS + 1
    assert sorted(keys(s3_client, bucket)) == ["done/big.csv", "done/small.csv"]
    record(
        "database_outage",
        "terminate the worker's connections mid-file",
        connections_killed=killed,
        runs=Run.objects.count(),
        lost=0,
        duplicates=0,
    )
