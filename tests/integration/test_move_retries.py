"""A move refused on a real worker: its batch's task hands it to the move task, which Celery
runs again later (no worker sleeps); the run waits for it and ends as the last try says."""

from typing import Any

import pytest

from entities.models import Record
from ingest import tasks
from ingest.models import FileState, Run, RunStatus, RunTrigger, SourceFile
from ingest.runs import start_run
from tests.support.celery_worker import celery_worker, flush_broker, wait_for
from tests.support.factories import GOOD_CSV, keys, make_connector, put
from tests.support.fault_proxy import Rule, fault_proxy

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def finished_run(run_id: int) -> Run:
    wait_for(lambda: Run.objects.get(pk=run_id).finished_at is not None, what="the run to finish")
    return Run.objects.get(pk=run_id)


@pytest.mark.parametrize(
    ("refusals", "status", "attempts"),
    [(1, RunStatus.SUCCEEDED, 1), (100, RunStatus.UNMOVED, 3)],
    ids=["refused-once", "refused-every-time"],
)
def test_a_refused_move_is_retried_by_the_move_task_on_a_worker(
    alice, bucket, moto_url, s3_endpoint, s3_client, settings: Any, refusals, status, attempts
) -> None:
    with fault_proxy(moto_url) as proxy:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, proxy.url]
        connector = make_connector(alice, bucket=bucket, endpoint=proxy.url)
        put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
        proxy.rules.append(Rule("PUT", "done/good.csv", "403", times=refusals))
        flush_broker()
        allowed = {"S3_ALLOWED_ENDPOINTS": f"{moto_url},{proxy.url}"}
        with celery_worker(moto_url, name="moves", extra_env=allowed):
            run = start_run(connector, trigger=RunTrigger.MANUAL)
            tasks.run_connector.delay(run.pk)
            run = finished_run(run.pk)

    source_file = SourceFile.objects.get()
    assert (run.status, source_file.route_attempts) == (status, attempts)
    assert Record.objects.count() == 2
    if status == RunStatus.SUCCEEDED:
        assert keys(s3_client, bucket) == ["done/good.csv"]
        assert source_file.state == FileState.MOVED
    else:
        assert keys(s3_client, bucket) == ["incoming/good.csv"]
        assert "AccessDenied" in source_file.route_error
