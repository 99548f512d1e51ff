"""Run pages: history with filters, a run's report, live progress, CSV export, access, and Run
now refused with the reason (on the connector's page and in admin)."""

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.test import Client

from ingest import inline, runs
from ingest.models import Run, SourceFile
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


# --- retries of failed files (ingest.redrive) -----------------------------------------------


def failed_of(run: Run) -> SourceFile:
    return SourceFile.objects.get(run=run, outcome="failed")


def test_retry_on_the_run_page_starts_a_retry_run_by_the_user_that_links_back(
    alice, finished_run, django_capture_on_commit_callbacks
) -> None:
    failed = failed_of(finished_run)
    connector = finished_run.connector
    connector.error_tolerance = "1"  # the fix: the bad row is reported, the good one written
    connector.save()
    client = signed_in(alice)
    page = client.get(finished_run.get_absolute_url()).content.decode()
    assert f'id="retry-{failed.pk}"' in page and "Retry all failed files (1)" in page

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(f"{finished_run.get_absolute_url()}files/{failed.pk}/retry/")

    retry = Run.objects.get(trigger="retry")
    assert response.status_code == 302 and response["Location"] == retry.get_absolute_url()
    assert len(callbacks) == 1  # the retry_files task, sent once the claim is committed
    inline.retry_inline(retry)
    page = client.get(finished_run.get_absolute_url()).content.decode()
    assert f'href="{retry.get_absolute_url()}">retried in run #{retry.pk}</a>' in page
    assert f'id="retry-{failed.pk}"' not in page and "retry-all" not in page
    retry_page = client.get(retry.get_absolute_url()).content.decode()
    assert "Retry by alice" in retry_page and "Succeeded" in retry_page
    back = f'retrying the file that failed in <a href="{finished_run.get_absolute_url()}">'
    assert back in retry_page
    assert "moved to <code>done/bad.csv</code>" in retry_page


def test_retry_all_failed_files_takes_every_failed_file_of_the_run(alice, finished_run) -> None:
    response = signed_in(alice).post(finished_run.get_absolute_url() + "retry/", follow=True)
    retry = Run.objects.get(trigger="retry")
    assert f"Retry run {retry.pk} started." in response.content.decode()
    assert list(SourceFile.objects.filter(retry_run=retry)) == [failed_of(finished_run)]


def test_a_view_share_sees_no_retry_and_cannot_post_one(bob, team, finished_run) -> None:
    finished_run.connector.shares.create(group=team, access=1)
    client = signed_in(bob)
    page = client.get(finished_run.get_absolute_url()).content.decode()
    assert "/retry/" not in page and "Retry" not in page
    failed = failed_of(finished_run)
    base = finished_run.get_absolute_url()
    assert client.post(f"{base}files/{failed.pk}/retry/").status_code == 404
    assert client.post(f"{base}retry/").status_code == 404
    assert not Run.objects.filter(trigger="retry").exists()


def test_others_get_404_and_an_edit_share_may_retry(bob, charlie, team, finished_run) -> None:
    failed = failed_of(finished_run)
    url = f"{finished_run.get_absolute_url()}files/{failed.pk}/retry/"
    assert signed_in(charlie).post(url).status_code == 404
    finished_run.connector.shares.create(group=team, access=2)
    assert signed_in(bob).post(url).status_code == 302
    assert Run.objects.get(trigger="retry").triggered_by == bob


def test_a_retry_is_post_only_and_needs_the_csrf_token(alice, finished_run) -> None:
    url = f"{finished_run.get_absolute_url()}files/{failed_of(finished_run).pk}/retry/"
    assert signed_in(alice).get(url).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(url).status_code == 403
    assert not Run.objects.filter(trigger="retry").exists()


def test_a_retry_refused_says_why_on_the_run_page(alice, finished_run) -> None:
    connector = finished_run.connector
    connector.enabled = False
    connector.save()
    url = f"{finished_run.get_absolute_url()}files/{failed_of(finished_run).pk}/retry/"
    response = signed_in(alice).post(url, follow=True)
    assert response.redirect_chain[-1][0] == finished_run.get_absolute_url()
    assert "is disabled; enable it to run it" in response.content.decode()
    good = SourceFile.objects.get(run=finished_run, outcome="succeeded")
    url = f"{finished_run.get_absolute_url()}files/{good.pk}/retry/"
    connector.enabled = True
    connector.save()
    assert (
        "There is no failed file to retry"
        in signed_in(alice).post(url, follow=True).content.decode()
    )
    assert not Run.objects.filter(trigger="retry").exists()
