"""Runs carried out by real Celery workers: fan-out, scheduling and exactly-once under
concurrency."""

from typing import Any

import pytest

from entities.models import Record
from ingest import tasks
from ingest.models import FileState, Run, RunStatus, RunTrigger, SourceFile
from ingest.runs import start_run
from tests.support.celery_worker import celery_worker, wait_for
from tests.support.factories import BAD_CSV, GOOD_CSV, keys, make_connector, put

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def finished(run_id: int) -> bool:
    return Run.objects.get(pk=run_id).finished_at is not None


def test_a_worker_ingests_and_moves_the_files(
    worker, alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = start_run(connector, trigger=RunTrigger.MANUAL)

    tasks.run_connector.delay(run.pk)

    wait_for(lambda: finished(run.pk), what="the run to finish")
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL
    assert (run.files_succeeded, run.files_failed, run.records_created) == (1, 1, 2)
    assert keys(s3_client, bucket) == [
        "done/good.csv",
        "failed/bad.csv",
        "failed/bad.csv.errors.txt",
    ]


def test_the_schedule_starts_a_scheduled_run(worker, alice, bucket, s3_endpoint, s3_client) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)

    tasks.poll_connector.delay(connector.pk)

    wait_for(
        lambda: Run.objects.filter(connector=connector, finished_at__isnull=False).exists(),
        what="a scheduled run",
    )
    run = Run.objects.get(connector=connector)
    assert run.trigger == RunTrigger.SCHEDULED and run.status == RunStatus.SUCCEEDED
    assert Record.objects.count() == 2


def test_three_runs_on_two_workers_process_each_file_once(
    worker, alice, bucket, s3_endpoint, s3_client, settings, moto_url
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    count = 40
    for i in range(count):
        put(
            s3_client,
            bucket,
            f"incoming/part-{i:03}.csv",
            f"profile_id,first_name\nid-{i},Name {i}\n",
        )

    with celery_worker(moto_url, name="w2"):
        runs = [start_run(connector, trigger=RunTrigger.MANUAL) for _ in range(3)]
        for run in runs:
            tasks.run_connector.delay(run.pk)
        wait_for(lambda: all(finished(r.pk) for r in runs), what="three runs")
        wait_for(
            lambda: not SourceFile.objects.exclude(state=FileState.MOVED).exists(),
            what="every file moved",
        )

    assert SourceFile.objects.count() == count
    assert Record.objects.count() == count
    assert (
        sum(
            Run.objects.filter(pk__in=[r.pk for r in runs]).values_list(
                "files_succeeded", flat=True
            )
        )
        == count
    )
    assert keys(s3_client, bucket, "incoming/") == []
    assert len(keys(s3_client, bucket, "done/")) == count


def test_run_now_in_the_browser_flow_enqueues_a_real_run(
    worker, alice, bucket, s3_endpoint, s3_client, client: Any
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    client.force_login(alice)

    response = client.post(f"/connectors/{connector.pk}/run/")

    run = Run.objects.get(connector=connector)
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    wait_for(lambda: finished(run.pk), what="the run to finish")
    page = client.get(run.get_absolute_url()).content.decode()
    assert "Succeeded" in page and "done/good.csv" in page
