"""Alerts from a real Celery worker on the default e-mail settings (`make run`'s): a run with
a broken file ends, the worker sends one alert, and its e-mail is printed in the worker's log
(the console backend)."""

from pathlib import Path

import pytest

from alerts import services
from alerts.models import Alert
from ingest import tasks
from ingest.models import Run, RunTrigger
from ingest.runs import start_run
from tests.support.celery_worker import celery_worker, flush_broker, integration_env, wait_for
from tests.support.factories import BAD_CSV, GOOD_CSV, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_worker_prints_the_alert_email_of_a_broken_file_in_its_log(
    alice, bucket, s3_endpoint, s3_client, moto_url, tmp_path: Path
) -> None:
    integration_env(moto_url)
    flush_broker()
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    services.save_settings(
        connector,
        recipients=["you@example.com"],
        webhook_url="",
        events={"run_failed", "files_failed"},
        not_moved_hours=24,
    )
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/broken.csv", BAD_CSV)
    log = tmp_path / "worker.log"
    with celery_worker(moto_url, name="alerts", log=log):
        run = start_run(connector, trigger=RunTrigger.MANUAL)
        tasks.run_connector.delay(run.pk)
        wait_for(
            lambda: Alert.objects.filter(run=run, email_sent_at__isnull=False).exists(),
            what="the alert e-mail to be sent",
        )
    text = log.read_text()
    run = Run.objects.get(pk=run.pk)
    assert f"Subject: [Loadbay] Profiles: run #{run.pk}: 1 file failed" in text
    assert "To: you@example.com" in text
    assert "- incoming/broken.csv: 1 of 2 rows is invalid" in text
    assert f"/connectors/{connector.pk}/runs/{run.pk}/" in text
    assert text.count("Subject: [Loadbay]") == 1
