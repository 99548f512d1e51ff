"""Issue 12's attack on shared records: a user with no share made a Sync connector on Profile
over a one-row file in her own bucket and so deleted the records another user's connector had
written. Each way in is tried end to end (wizard over HTTP, real runs against moto)."""

from typing import Any

import pytest
from django.test import Client

from connectors import services as connector_services
from connectors.models import AccessLevel, Connector
from entities.models import EntityAccess, EntityRight, Record
from ingest import inline, runs
from ingest.models import RunStatus
from tests.reliability.figures import record
from tests.support.factories import GOOD_CSV, grant, keys, make_connector, put
from tests.support.wizard import entity_settings_values, entity_values, post_step

ALICES = (
    "profile_id,first_name,last_name,email\n"
    "p1,Ada,Lovelace,ada@example.com\n"
    "p2,Alan,Turing,alan@example.com\n"
    "p3,Grace,Hopper,grace@example.com\n"
)
ONE_ROW = "profile_id,first_name\nc1,Charlie\n"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run(connector: Connector) -> Any:
    return inline.run_inline(runs.start_run(connector, trigger="manual"))


@pytest.fixture
def alices_records(alice, bucket, s3_endpoint, s3_client) -> Connector:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/profiles.csv", ALICES)
    assert run(connector).records_created == 3
    return connector


def test_charlie_without_access_can_neither_pick_profile_nor_save_a_sync_connector(
    charlie, alices_records
) -> None:
    client = signed_in(charlie)
    assert (
        "You may not write into any entity yet" in client.get("/connectors/new/").content.decode()
    )
    response = post_step(client, "/connectors/new/", "entity", entity_values("Profile"))
    assert response.context["wizard"]["steps"].current == "entity"
    with pytest.raises(connector_services.EntityAccessDenied):
        make_connector(charlie, bucket="charlies-own", endpoint="", integration_type="sync")
    assert Connector.objects.filter(owner=charlie).count() == 0
    record("entity_access_attacks", "charlie picks Profile / saves Sync", outcome="refused")


def test_a_sync_connector_of_another_user_never_removes_alices_connectors_records(
    charlie, alices_records, s3_endpoint, s3_client
) -> None:
    """Even given delete access to Profile, charlie's Sync removes only what his own connector
    wrote: his one-row file leaves alice's three records alone."""
    grant(user=charlie, entity="Profile", level=EntityRight.DELETE)
    s3_client.create_bucket(Bucket="charlies-own-bucket")
    charlies = make_connector(
        charlie,
        bucket="charlies-own-bucket",
        endpoint=s3_endpoint,
        integration_type="sync",
        name="Mirror",
    )
    put(s3_client, "charlies-own-bucket", "incoming/one.csv", ONE_ROW)
    result = run(charlies)
    assert (result.status, result.records_created, result.records_deleted) == (
        RunStatus.SUCCEEDED,
        1,
        0,
    )
    owners = dict(Record.objects.values_list("external_id", "connector_id"))
    assert owners == {
        "p1": alices_records.pk,
        "p2": alices_records.pk,
        "p3": alices_records.pk,
        "c1": charlies.pk,
    }
    record("entity_access_attacks", "Sync of another user's connector", alices_records_kept=3)


def test_an_edit_share_without_delete_access_cannot_switch_alices_connector_to_sync(
    bob, team, alices_records
) -> None:
    alices_records.shares.create(group=team, access=AccessLevel.EDIT)
    grant(group=team, entity="Profile", level=EntityRight.WRITE)
    client = signed_in(bob)
    url = f"/connectors/{alices_records.pk}/edit/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    response = post_step(
        client, url, "entity_settings", entity_settings_values(integration_type="sync")
    )
    assert "You may not delete Profile records" in response.content.decode()
    alices_records.refresh_from_db()
    assert alices_records.integration_type == "upsert"
    record("entity_access_attacks", "edit share switches to Sync", outcome="refused")


def test_revoked_access_fails_the_next_run_with_nothing_written(
    alice, alices_records, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/more.csv", GOOD_CSV.replace("p1", "p9"))
    queued = runs.start_run(alices_records, trigger="manual")
    EntityAccess.objects.filter(user=alice, entity_type__name="Profile").delete()
    result = inline.run_inline(queued)
    assert result.status == RunStatus.FAILED and "may not write into Profile" in result.error
    with pytest.raises(runs.RunRefused, match="may not write into Profile"):
        runs.start_run(alices_records, trigger="manual")
    assert not Record.objects.filter(external_id="p9").exists()
    assert "incoming/more.csv" in keys(s3_client, bucket, "incoming/")
    record("entity_access_attacks", "run after access revoked", outcome="failed, 0 written")


def test_a_one_row_sync_file_cannot_wipe_a_thousand_records(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    syncing = make_connector(
        alice, bucket=bucket, endpoint=s3_endpoint, integration_type="sync", name="Mirror"
    )
    put(
        s3_client,
        bucket,
        "incoming/all.csv",
        "profile_id\n" + "".join(f"s{n}\n" for n in range(1000)),
    )
    assert run(syncing).records_created == 1000
    put(s3_client, bucket, "incoming/truncated.csv", "profile_id\ns0\n")
    result = run(syncing)
    assert (result.files_failed, result.records_deleted) == (1, 0)
    assert Record.objects.count() == 1000
    assert keys(s3_client, bucket, "failed/") == [
        "failed/truncated.csv",
        "failed/truncated.csv.errors.txt",
    ]
    record("entity_access_attacks", "1-row Sync file over 1,000 records", records_kept=1000)
