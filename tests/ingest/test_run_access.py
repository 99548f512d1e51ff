"""Runs act for the connector's owner: a run whose owner may no longer write into the entity
(or delete from it, for Sync) is refused or fails saying why, and writes nothing. Sync files
that would remove more than the connector's deletion limit fail by the spec's file rules."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from entities.models import EntityAccess, EntityRight, Record
from ingest import inline, listing, runs
from ingest.models import FileState, Run, RunStatus, SourceFile
from tests.support.factories import GOOD_CSV, keys, make_connector, put

REFUSED = "alice, who owns this connector and whose access its runs use, may not write into Profile"


def revoke(user: Any) -> None:
    EntityAccess.objects.filter(user=user, entity_type__name="Profile").delete()


def test_run_now_is_refused_once_the_owners_access_is_revoked(alice, connector) -> None:
    revoke(alice)
    with pytest.raises(runs.RunRefused) as refused:
        runs.start_run(connector, trigger="manual")
    assert str(refused.value).startswith(REFUSED)
    assert not Run.objects.exists()


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


def test_a_queued_run_fails_if_access_was_revoked_before_it_started(
    alice, connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")
    revoke(alice)
    run = inline.run_inline(run)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(REFUSED) and run.error.endswith("Nothing was ingested.")
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    assert keys(s3_client, bucket) == ["incoming/good.csv"]


def test_a_batch_gives_its_files_back_if_access_was_revoked_after_listing(
    alice, connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")

    def revoke_then_process(run_id: int, ids: list[int]) -> None:
        revoke(alice)
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=revoke_then_process)
    run.refresh_from_db()
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    assert keys(s3_client, bucket) == ["incoming/good.csv"]  # untouched, for a later run
    assert run.status == RunStatus.PARTIAL and run.files_seen == 0
    assert run.notes == [
        f"incoming/good.csv: not read this time, will be retried next run: {REFUSED}. An "
        "administrator gives access (Django admin: Entity types → Profile → Access)."
    ]


def test_a_refused_scheduled_poll_is_recorded_as_a_failed_run(alice, connector) -> None:
    revoke(alice)
    assert runs.start_scheduled_run(connector.pk) is None
    run = Run.objects.get()
    assert (run.trigger, run.status) == ("scheduled", RunStatus.FAILED)
    assert run.error.startswith(REFUSED) and run.finished_at is not None


def test_a_sync_connector_whose_owner_may_only_write_is_refused(alice, bucket, s3_endpoint) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, integration_type="sync")
    EntityAccess.objects.filter(user=alice).update(level=EntityRight.WRITE)
    with pytest.raises(runs.RunRefused, match="may not delete Profile records"):
        runs.start_run(connector, trigger="manual")


# --- Sync's deletion limit, through a run ------------------------------------------------------

THOUSAND = "profile_id,first_name\n" + "".join(f"s{n},First\n" for n in range(1000))


@pytest.fixture
def syncing(alice, bucket, s3_endpoint, s3_client) -> Any:
    """alice's Sync connector (limit 10%), which has written 1,000 records."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, integration_type="sync")
    put(s3_client, bucket, "incoming/all.csv", THOUSAND)
    assert inline.run_inline(runs.start_run(connector, trigger="manual")).records_created
    return connector


def test_a_sync_file_over_the_limit_fails_by_the_file_rules_and_says_how_many(
    syncing, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/truncated.csv", "profile_id,first_name\ns0,Changed\n")
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    reason = (
        "Sync would remove 999 of the 1,000 records this connector wrote (99.9%), more than "
        "its limit of 10%; nothing from this file was written"
    )
    assert (run.files_failed, run.records_deleted, run.records_updated) == (1, 0, 0)
    assert SourceFile.objects.get(key="incoming/truncated.csv").failure_reason == reason
    assert Record.objects.count() == 1000
    assert Record.objects.get(external_id="s0").data["first_name"] == "First"
    assert "failed/truncated.csv" in keys(s3_client, bucket, "failed/")
    report = s3_client.get_object(Bucket=bucket, Key="failed/truncated.csv.errors.txt")
    assert reason in report["Body"].read().decode()


def test_in_a_batch_the_file_over_the_limit_fails_alone(syncing, bucket, s3_client) -> None:
    """Small files share a transaction: the failing file's writes are undone, the next file's
    are kept."""
    put(s3_client, bucket, "incoming/a-truncated.csv", "profile_id,first_name\ns0,Changed\n")
    put(s3_client, bucket, "incoming/b-whole.csv", THOUSAND.replace("s999,First\n", ""))
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    assert (run.files_succeeded, run.files_failed, run.records_deleted) == (1, 1, 1)
    failed = SourceFile.objects.get(key="incoming/a-truncated.csv")
    assert failed.state == FileState.MOVED and "remove 999 of the 1,000" in failed.failure_reason
    assert Record.objects.count() == 999
    assert Record.objects.get(external_id="s0").data["first_name"] == "First"


def test_a_limit_of_100_percent_lets_the_file_through(syncing, bucket, s3_client) -> None:
    syncing.sync_delete_limit_percent = 100
    syncing.save()
    put(s3_client, bucket, "incoming/one.csv", "profile_id,first_name\ns0,Changed\n")
    run = inline.run_inline(runs.start_run(syncing, trigger="manual"))
    assert (run.files_succeeded, run.records_deleted) == (1, 999)
    assert list(Record.objects.values_list("external_id", flat=True)) == ["s0"]
