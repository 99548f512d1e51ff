"""SIGKILL the worker at each phase of a file, restart it, run again: every record exactly
once, every file in exactly one place."""

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from entities.models import Record
from ingest import runs, tasks
from ingest.faults import POINTS
from ingest.models import FileState, Run, RunTrigger, SourceFile
from tests.reliability.figures import record
from tests.support.celery_worker import celery_worker, flush_broker, wait_for
from tests.support.factories import keys, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FILES = 3

# A short lock, so the rerun need not wait long for a dead run's listing lock to lapse.
LOCK = {"INGEST_LOCK_SECONDS": "2"}


def body(i: int) -> str:
    rows = "".join(f"f{i}-r{r},Name{r},Last{r},u{i}x{r}@example.com\n" for r in range(20))
    return "profile_id,first_name,last_name,email\n" + rows


def run_and_wait(connector: Any, *, until: Any, what: str) -> Run:
    run = runs.start_run(connector, trigger=RunTrigger.MANUAL)
    tasks.run_connector.delay(run.pk)
    wait_for(until(run), timeout=60, what=what)
    return run


def kill_at(point: str, connector: Any, moto_url: str) -> None:
    """Run `connector` on a worker that SIGKILLs itself at `point`; return once it is dead and
    its run's listing lock has lapsed."""
    marker = Path(f"/tmp/loadbay-fault-{uuid.uuid4().hex}")
    flush_broker()
    fault = {"INGEST_FAULT_POINT": point, "INGEST_FAULT_MARKER": str(marker), **LOCK}
    with celery_worker(
        moto_url, name=f"doomed-{point}", concurrency=1, pool="solo", extra_env=fault
    ) as doomed:
        run_and_wait(connector, until=lambda run: marker.exists, what=f"the {point} fault")
        doomed.wait(timeout=30)  # SIGKILL: the whole worker is gone
        assert doomed.returncode == -9
    flush_broker()  # the killed worker's unacknowledged message is not needed
    time.sleep(2.5)  # the dead run's lock lapses


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_worker_loses_and_duplicates_nothing(
    point: str, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any, moto_url: str
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    for i in range(FILES):
        put(s3_client, bucket, f"incoming/part-{i}.csv", body(i))
    kill_at(point, connector, moto_url)
    with celery_worker(moto_url, name=f"fresh-{point}", concurrency=1, extra_env=LOCK):
        rerun = run_and_wait(
            connector,
            until=lambda run: (
                lambda: (
                    Run.objects.get(pk=run.pk).finished_at is not None
                    and not SourceFile.objects.exclude(state=FileState.MOVED).exists()
                )
            ),
            what="the rerun to converge",
        )

    assert Record.objects.count() == FILES * 20
    assert SourceFile.objects.filter(state=FileState.MOVED).count() == FILES
    assert keys(s3_client, bucket) == [f"done/part-{i}.csv" for i in range(FILES)]
    assert Run.objects.get(pk=rerun.pk).status == "succeeded"
    record(
        "worker_kills",
        point,
        records=Record.objects.count(),
        files_moved=FILES,
        duplicates=0,
        lost=0,
    )


@pytest.mark.parametrize("point", ["after_commit", "after_copy"])
def test_a_file_replaced_while_the_worker_is_dead_is_ingested_once(
    point: str, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any, moto_url: str
) -> None:
    """moto ignores CopySourceIfMatch and the ETags of DeleteObjects, as some S3-compatible
    stores do: before, the new version was copied under the old ledger entry (after_commit) or
    deleted (after_copy), and never ingested."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    for i in range(FILES):
        put(s3_client, bucket, f"incoming/part-{i}.csv", body(i))
    kill_at(point, connector, moto_url)
    new_version = body(0) + "f0-new,New,Row,new@example.com\n"
    put(s3_client, bucket, "incoming/part-0.csv", new_version)

    def converged(run: Run) -> Any:
        return lambda: (
            Run.objects.get(pk=run.pk).finished_at is not None
            and not SourceFile.objects.filter(state__in=["claimed", "ingested"]).exists()
        )

    with celery_worker(moto_url, name=f"fresh-{point}", concurrency=1, extra_env=LOCK):
        run_and_wait(connector, until=converged, what="the rerun to converge")

    assert Record.objects.count() == FILES * 20 + 1  # the new version's row is there
    assert not keys(s3_client, bucket, "incoming/")
    moved = keys(s3_client, bucket, "done/")
    bodies = [s3_client.get_object(Bucket=bucket, Key=k)["Body"].read().decode() for k in moved]
    assert bodies.count(new_version) == 1  # moved once, under the ledger entry that ingested it
    newest = SourceFile.objects.filter(key="incoming/part-0.csv").order_by("pk").last()
    assert newest.state == FileState.MOVED and newest.rows_total == 21
    record(
        "worker_kills",
        f"{point}, source replaced while dead",
        records=Record.objects.count(),
        lost=0,
        duplicates=0,
    )
