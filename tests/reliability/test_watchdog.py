"""A worker SIGKILLed mid-run leaves its run "running" and its files claimed; the watchdog
finishes the run, says so on it, and releases the claims; the next run then ingests each
file exactly once."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from entities.models import Record
from ingest import runs, tasks, watchdog
from ingest.models import FileState, Run, RunStatus, RunTrigger, SourceFile
from tests.reliability.figures import record
from tests.support.celery_worker import celery_worker, flush_broker, wait_for
from tests.support.factories import keys, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FILES = 3


def body(i: int) -> str:
    rows = "".join(f"f{i}-r{r},Name{r},Last{r},u{i}x{r}@example.com\n" for r in range(20))
    return "profile_id,first_name,last_name,email\n" + rows


def later() -> Any:
    return timezone.now() + timedelta(seconds=settings.INGEST_STALE_RUN_SECONDS + 1)


def start(connector: Any) -> Run:
    run = runs.start_run(connector, trigger=RunTrigger.MANUAL)
    tasks.run_connector.delay(run.pk)
    return run


@pytest.mark.parametrize(
    ("point", "status"),
    [("after_claim", RunStatus.FAILED), ("mid_parse", RunStatus.PARTIAL)],
    ids=["killed while listing", "killed while ingesting"],
)
def test_the_watchdog_finishes_a_run_a_killed_worker_left_and_releases_its_claims(
    point: str, status: str, alice, bucket, s3_endpoint, s3_client, moto_url
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    for i in range(FILES):
        put(s3_client, bucket, f"incoming/part-{i}.csv", body(i))
    marker = Path(f"/tmp/loadbay-fault-{uuid.uuid4().hex}")
    flush_broker()
    fault = {"INGEST_FAULT_POINT": point, "INGEST_FAULT_MARKER": str(marker)}
    with celery_worker(
        moto_url, name=f"killed-{point}", concurrency=1, pool="solo", extra_env=fault
    ) as doomed:
        dead = start(connector)
        wait_for(marker.exists, timeout=60, what=f"the {point} fault")
        doomed.wait(timeout=30)
        assert doomed.returncode == -9
    flush_broker()  # nothing will redeliver its task: the run is left as it was
    assert Run.objects.get(pk=dead.pk).status == RunStatus.RUNNING
    assert SourceFile.objects.filter(state=FileState.CLAIMED).count() == FILES

    # PostgreSQL drops the dead worker's connection, and its row locks, as soon as it notices.
    wait_for(
        lambda: watchdog.sweep(now=later()).runs_finished == [dead.pk],
        timeout=30,
        what="the watchdog to finish the run",
    )

    dead.refresh_from_db()
    assert dead.status == status and dead.finished_at is not None
    assert dead.notes[-1].startswith("Watchdog, ")
    assert f"Released {FILES} claimed file(s)" in dead.notes[-1]
    assert not SourceFile.objects.exists() and Record.objects.count() == 0
    with celery_worker(moto_url, name=f"fresh-{point}", concurrency=1):
        rerun = start(connector)
        wait_for(
            lambda: Run.objects.get(pk=rerun.pk).finished_at is not None,
            timeout=60,
            what="the next run",
        )
    assert Run.objects.get(pk=rerun.pk).status == RunStatus.SUCCEEDED
    assert Record.objects.count() == FILES * 20
    assert SourceFile.objects.filter(state=FileState.MOVED).count() == FILES
    assert keys(s3_client, bucket) == [f"done/part-{i}.csv" for i in range(FILES)]
    record("watchdog", point, runs_finished=1, claims_released=FILES, duplicates=0, lost=0)
