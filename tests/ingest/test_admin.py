"""Admin's actions that retry failed files: of selected files, of selected runs; refused
saying why."""

import pytest
from django.contrib.auth.models import Permission, User

from ingest import inline, runs
from ingest.models import Run, SourceFile
from tests.support.factories import BAD_CSV, GOOD_CSV, make_connector, put
from tests.support.pages import signed_in


@pytest.fixture
def finished_run(alice, bucket, s3_endpoint, s3_client) -> Run:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, error_tolerance="0")
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    return inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))


@pytest.fixture
def root(db) -> User:
    return User.objects.create_superuser("root", "", "pw-for-tests-only")


def test_the_retry_action_on_files_retries_the_failed_ones(root, finished_run) -> None:
    failed = SourceFile.objects.get(outcome="failed")
    response = signed_in(root).post(
        "/admin/ingest/sourcefile/",
        {"action": "retry_selected", "_selected_action": [failed.pk]},
        follow=True,
    )
    retry = Run.objects.get(trigger="retry")
    assert f"Retry run {retry.pk} of &#x27;Profiles&#x27; started." in response.content.decode()
    assert retry.triggered_by == root
    assert SourceFile.objects.get(pk=failed.pk).retry_run == retry
    finished = inline.retry_inline(retry)
    assert finished.files_failed == 1  # still bad: retried once, failed again, said so
    assert SourceFile.objects.get(retry_of=failed).destination_key.startswith("failed/bad-")


def test_the_retry_action_on_runs_retries_their_failed_files_and_refuses_the_rest(
    root, finished_run
) -> None:
    client = signed_in(root)
    url = "/admin/ingest/run/"
    client.post(url, {"action": "retry_failed_files", "_selected_action": [finished_run.pk]})
    retry = Run.objects.get(trigger="retry")
    assert list(SourceFile.objects.filter(retry_run=retry)) == [
        SourceFile.objects.get(outcome="failed", run=finished_run)
    ]

    again = client.post(
        url, {"action": "retry_failed_files", "_selected_action": [finished_run.pk]}, follow=True
    )
    assert "Profiles: There is no failed file to retry" in again.content.decode()
    assert Run.objects.filter(trigger="retry").count() == 1


def test_the_retry_action_refuses_a_staff_user_without_edit_access(root, finished_run) -> None:
    staff = User.objects.create_user("staff", password="pw-for-tests-only", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_sourcefile"))
    failed = SourceFile.objects.get(outcome="failed")
    response = signed_in(staff).post(
        "/admin/ingest/sourcefile/",
        {"action": "retry_selected", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert "You may not retry the files of &#x27;Profiles&#x27;." in response.content.decode()
    assert not Run.objects.filter(trigger="retry").exists()
