"""Run pages: history with filters, a run's report, live progress, CSV export, access, and Run
now refused with the reason (on the connector's page and in admin)."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest import inline, runs
from ingest.models import Run
from tests.support.factories import BAD_CSV, GOOD_CSV, REFUSED, make_connector, put, revoke
from tests.support.pages import report_text, signed_in


@pytest.fixture
def finished_run(alice, bucket, s3_endpoint, s3_client) -> Run:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    return inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))


def test_the_run_page_shows_each_file_and_each_bad_row(alice, finished_run) -> None:
    page = signed_in(alice).get(finished_run.get_absolute_url()).content.decode()
    assert "Completed with failed files" in page
    assert "moved to <code>done/good.csv</code>" in page
    assert "failed/bad.csv.errors.txt" in page
    assert "1 of 2 rows is invalid" in page
    assert "&#x27;not-an-email&#x27; is not an email address" in page


def test_the_run_page_says_which_files_were_not_moved_and_why(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(
        alice, bucket=bucket, endpoint=s3_endpoint, success_path="processed/files/done/"
    )
    put(s3_client, bucket, "incoming/" + "d" * 1000 + "/a.csv", GOOD_CSV)
    run = inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))
    page = signed_in(alice).get(run.get_absolute_url()).content.decode()
    assert 'status-unmoved" id="run-status">Completed, some files not moved<' in page
    assert "<strong>Not moved</strong> (kept in the source directory, not retried)" in page
    assert "longer than S3&#x27;s limit of 1,024 bytes" in page
    connector_page = signed_in(alice).get(connector.get_absolute_url()).content.decode()
    assert "kept in the source directory, not retried: Its name in" in connector_page


def test_the_history_filters_scheduled_and_manual_runs(alice, finished_run) -> None:
    Run.objects.create(connector=finished_run.connector, trigger="scheduled")
    client = signed_in(alice)
    url = f"/connectors/{finished_run.connector_id}/runs/"
    assert client.get(url).content.decode().count('class="badge status-') == 2
    manual = client.get(url + "?trigger=manual").content.decode()
    assert manual.count('class="badge status-') == 1 and "Manual" in manual


def test_progress_is_served_as_json(alice, finished_run) -> None:
    url = finished_run.get_absolute_url() + "progress.json"
    progress = signed_in(alice).get(url).json()
    assert progress["status"] == "partial" and progress["active"] is False
    assert (progress["files_succeeded"], progress["files_failed"]) == (1, 1)


def test_the_report_exports_files_and_bad_rows_as_csv(alice, finished_run) -> None:
    content_type, text = report_text(alice, finished_run)
    assert content_type == "text/csv; charset=utf-8"
    assert text.startswith("\ufeff"), "spreadsheets decode UTF-8 only with a BOM"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    by_file = {(r["file"], r["error_line"]) for r in rows}
    assert ("incoming/good.csv", "") in by_file
    assert ("incoming/bad.csv", "3") in by_file
    bad = next(r for r in rows if r["error_line"] == "3")
    assert bad["error_column"] == "email" and "not an email address" in bad["error_reason"]


def test_others_get_404_on_every_run_url(charlie, finished_run) -> None:
    client = signed_in(charlie)
    base = finished_run.get_absolute_url()
    for url in (
        f"/connectors/{finished_run.connector_id}/runs/",
        base,
        base + "progress.json",
        base + "report.csv",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/connectors/{finished_run.connector_id}/run/").status_code == 404


def test_a_view_share_sees_runs_but_cannot_start_one(bob, team, finished_run) -> None:
    finished_run.connector.shares.create(group=team, access=1)
    client = signed_in(bob)
    assert client.get(finished_run.get_absolute_url()).status_code == 200
    assert client.post(f"/connectors/{finished_run.connector_id}/run/").status_code == 404


def test_run_now_on_a_disabled_connector_says_why(alice, finished_run) -> None:
    connector = finished_run.connector
    connector.enabled = False
    connector.save()
    response = signed_in(alice).post(f"/connectors/{connector.pk}/run/", follow=True)
    assert "is disabled; enable it to run it" in response.content.decode()
    assert Run.objects.filter(connector=connector).count() == 1


def test_the_run_now_button_says_why_it_was_refused(alice, connector) -> None:
    revoke(alice)
    client = Client()
    client.force_login(alice)
    response = client.post(f"/connectors/{connector.pk}/run/", follow=True)
    assert REFUSED in response.content.decode()
    assert not Run.objects.exists()


def test_the_admin_run_now_action_says_why_it_was_refused(alice, connector) -> None:
    revoke(alice)
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    client = Client()
    client.force_login(root)
    response = client.post(
        "/admin/connectors/connector/",
        {"action": "run_now", "_selected_action": [connector.pk]},
        follow=True,
    )
    assert "A" + REFUSED[1:] in response.content.decode()  # admin capitalises its messages
    assert not Run.objects.exists()
