"""/metrics includes what Celery worker processes did: a run carried out by a real worker
(prefork children on Redis and PostgreSQL), then scraped from this process."""

import pytest

from ingest import tasks
from ingest.models import Run, RunTrigger
from ingest.runs import start_run
from tests.support.celery_worker import wait_for
from tests.support.factories import BAD_CSV, GOOD_CSV, make_connector, put
from tests.support.ops import METRICS_TOKEN, scrape, value

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_run_done_by_a_worker_shows_in_a_scrape_of_the_web_process(
    worker, alice, bucket, s3_endpoint, s3_client, settings
) -> None:
    settings.LOADBAY_METRICS_TOKEN = METRICS_TOKEN
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    c = str(connector.pk)
    before = scrape().content.decode()
    assert value(before, "loadbay_runs_finished_total", connector=c, status="partial") is None

    run = start_run(connector, trigger=RunTrigger.MANUAL)
    tasks.run_connector.delay(run.pk)
    wait_for(lambda: Run.objects.get(pk=run.pk).finished_at is not None, what="the worker's run")

    text = scrape().content.decode()
    assert value(text, "loadbay_runs_finished_total", connector=c, status="partial") == 1
    assert value(text, "loadbay_files_total", connector=c, outcome="succeeded") == 1
    assert value(text, "loadbay_files_total", connector=c, outcome="failed") == 1
    assert value(text, "loadbay_records_written_total", connector=c, action="created") == 2
    assert value(text, "loadbay_run_duration_seconds_count") == 1
    assert value(text, "loadbay_queue_depth", queue="celery") is not None  # the workers' broker
