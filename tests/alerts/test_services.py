"""Alerts by e-mail (Django's locmem backend): one message per run, naming the connector, the
run, its counts, the first failed files with their reasons and an absolute link to the run
page; none for an event the connector did not choose; files not moved alerted once per file;
a connector the system disabled."""

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from alerts import hooks, services, tasks
from alerts.models import Alert, AlertEvent, AlertSettings
from ingest import inline, runs
from ingest.models import FileState, FileVerdict, Run, SourceFile
from tests.alerts.conftest import BASE_URL
from tests.support.factories import BAD_CSV, GOOD_CSV, make_connector, put

pytestmark = pytest.mark.django_db
ALL_EVENTS = {event.value for event in AlertEvent}


def alert_by_email(connector: Any, events: set[str] = ALL_EVENTS, hours: int = 24) -> None:
    services.save_settings(
        connector,
        recipients=["ops@example.com", "data@example.com"],
        webhook_url="",
        events=events,
        not_moved_hours=hours,
    )


def test_a_run_with_a_failed_file_sends_one_email_with_counts_errors_and_a_link(
    alice, bucket, s3_endpoint, s3_client, django_capture_on_commit_callbacks
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    alert_by_email(connector)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    with django_capture_on_commit_callbacks(execute=True):
        run = inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))
    assert run.files_failed == 1

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["ops@example.com", "data@example.com"]
    assert sent.subject == f"[Loadbay] Profiles: run #{run.pk}: 1 file failed"
    assert "Connector: Profiles (entity Profile)" in sent.body
    assert "Files: 2 seen, 1 succeeded, 1 failed" in sent.body
    assert "- incoming/bad.csv: 1 of 2 rows is invalid" in sent.body
    assert "'not-an-email' is not an email address" in sent.body
    assert f"Run page: {BASE_URL}/connectors/{connector.pk}/runs/{run.pk}/" in sent.body

    # The end of the run announced again (a redelivered task): still one message.
    with django_capture_on_commit_callbacks(execute=True):
        tasks.alert_run_finished.delay(run.pk)
        runs.announce_finished(run.pk)
    assert len(mail.outbox) == 1
    assert Alert.objects.filter(run=run).count() == 1


def test_no_email_is_sent_for_an_event_the_connector_did_not_choose(
    alice, bucket, s3_endpoint, s3_client, django_capture_on_commit_callbacks
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    alert_by_email(connector, events={AlertEvent.RUN_FAILED})
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    with django_capture_on_commit_callbacks(execute=True):
        run = inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))
    assert run.files_failed == 1
    assert mail.outbox == []
    assert not Alert.objects.exists()


def test_a_connector_without_alert_settings_enqueues_nothing(
    connector, failed_run, monkeypatch
) -> None:
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.alert_run_finished, "delay", enqueued.append)
    hooks.on_run_finished(sender=Run, run_id=failed_run().pk)
    assert enqueued == []
    alert_by_email(connector)
    run = failed_run()
    hooks.on_run_finished(sender=Run, run_id=run.pk)
    assert enqueued == [run.pk]


def test_a_failed_run_is_alerted_as_failed_saying_why(
    connector, django_capture_on_commit_callbacks
) -> None:
    alert_by_email(connector)
    run = Run.objects.create(connector=connector, trigger="scheduled")
    with django_capture_on_commit_callbacks(execute=True):
        runs.fail_run(run, "Listing the source directory failed: AccessDenied")
        runs.fail_run(run, "closed twice")  # already closed: no second announcement
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == f"[Loadbay] Profiles: run #{run.pk} failed"
    assert "Why the run failed: Listing the source directory failed: AccessDenied" in (
        mail.outbox[0].body
    )


def _stale_file(connector: Any, key: str, hours_ago: float) -> SourceFile:
    run = Run.objects.create(connector=connector, trigger="manual", status="unmoved")
    return SourceFile.objects.create(
        connector=connector,
        run=run,
        key=key,
        etag='"e"',
        last_modified=timezone.now(),
        state=FileState.INGESTED,
        outcome=FileVerdict.SUCCEEDED,
        route_error="AccessDenied: s3:PutObject on done/",
        ingested_at=timezone.now() - timedelta(hours=hours_ago),
    )


def test_files_not_moved_for_longer_than_n_hours_are_alerted_once(
    connector, django_capture_on_commit_callbacks
) -> None:
    alert_by_email(connector, events={AlertEvent.FILES_NOT_MOVED}, hours=6)
    _stale_file(connector, "incoming/a.csv", hours_ago=7)
    _stale_file(connector, "incoming/recent.csv", hours_ago=1)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.check_files_not_moved.delay()
        tasks.check_files_not_moved.delay()  # the next beat: nothing new
    assert len(mail.outbox) == 1
    first = mail.outbox[0]
    assert first.subject == "[Loadbay] Profiles: 1 file not moved for more than 6 hours"
    assert "- incoming/a.csv (run" in first.body and "AccessDenied" in first.body
    assert "recent.csv" not in first.body

    _stale_file(connector, "incoming/b.csv", hours_ago=8)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.check_files_not_moved.delay()
        tasks.check_files_not_moved.delay()
    assert len(mail.outbox) == 2
    second = mail.outbox[1]
    assert "incoming/b.csv" in second.body and "incoming/a.csv" not in second.body
    assert "2 file(s) ingested more than 6 hour(s) ago" in second.body


def test_files_not_moved_are_not_alerted_when_the_event_is_not_chosen(
    connector, django_capture_on_commit_callbacks
) -> None:
    alert_by_email(connector, events={AlertEvent.RUN_FAILED}, hours=1)
    _stale_file(connector, "incoming/a.csv", hours_ago=30)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.check_files_not_moved.delay()
    assert mail.outbox == []


def test_a_connector_disabled_by_the_system_is_alerted_when_chosen(
    connector, django_capture_on_commit_callbacks
) -> None:
    alert_by_email(connector, events={AlertEvent.CONNECTOR_DISABLED})
    with django_capture_on_commit_callbacks(execute=True):
        hooks.connector_disabled_by_system(connector, "its credentials were refused 10 times")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[Loadbay] Profiles: disabled by the system"
    assert "its credentials were refused 10 times" in mail.outbox[0].body

    alert_by_email(connector, events={AlertEvent.RUN_FAILED})
    with django_capture_on_commit_callbacks(execute=True):
        hooks.connector_disabled_by_system(connector, "again")
    assert len(mail.outbox) == 1


def test_rotate_secrets_re_encrypts_webhook_secrets_under_the_new_key(
    alice, settings, resolves
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LOADBAY_ENCRYPTION_KEYS = [old]
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    resolves["hooks.example.com"] = ["93.184.215.14"]
    _, secret = services.save_settings(
        connector,
        recipients=[],
        webhook_url="https://hooks.example.com/x",
        events={AlertEvent.RUN_FAILED},
        not_moved_hours=24,
    )
    before = AlertSettings.objects.get().webhook_secret_encrypted
    settings.LOADBAY_ENCRYPTION_KEYS = [new, old]
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 2 secret(s)." in out.getvalue()  # the S3 secret and the webhook's
    settings.LOADBAY_ENCRYPTION_KEYS = [new]
    config = AlertSettings.objects.get()
    assert config.webhook_secret_encrypted != before and config.webhook_secret() == secret
