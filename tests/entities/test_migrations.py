"""Upgrading an installation: the owners of existing connectors keep the access their
connectors use, and existing records get the connector that wrote them last."""

import pytest
from django.utils import timezone

from connectors.models import Connector
from connectors.selectors import run_refusal
from entities.models import EntityAccess, EntityRight, Record
from tests.support.migrations import latest, migrate

BEFORE = [
    ("entities", "0006_record_timestamps_database_default"),
    ("connectors", "0001_initial"),
]


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_existing_connectors_running_and_their_syncs_their_records() -> None:
    ingest = [node for node in latest() if node[0] == "ingest"]
    try:
        old = migrate(BEFORE + ingest)
        user, entity = old.get_model("auth", "User"), old.get_model("entities", "EntityType")
        alice = user.objects.create(username="alice")
        bob = user.objects.create(username="bob")
        connector = old.get_model("connectors", "Connector")
        upserting = connector.objects.create(
            owner=alice, name="a", entity_type=entity.objects.get(name="Profile")
        )
        syncing = connector.objects.create(
            owner=bob,
            name="b",
            entity_type=entity.objects.get(name="Account"),
            integration_type="sync",
        )
        connector.objects.create(
            owner=user.objects.create(username="carol"),
            name="d",
            entity_type=entity.objects.get(name="Account"),
        )
        connector.objects.create(  # a second connector of alice's into Profile, a Sync
            owner=alice,
            name="c",
            entity_type=entity.objects.get(name="Profile"),
            integration_type="sync",
        )
        source_file = old.get_model("ingest", "SourceFile")
        files = {
            c.pk: source_file.objects.create(
                connector=c, key="k", etag="e", last_modified=timezone.now()
            ).pk
            for c in (upserting, syncing)
        }
        record = old.get_model("entities", "Record")
        profile = entity.objects.get(name="Profile")
        for external_id, file_id in [
            ("by-a", files[upserting.pk]),
            ("by-b", files[syncing.pk]),
            ("file-gone", 999_999),
            ("never-ingested", None),
        ]:
            record.objects.create(
                entity_type=profile, external_id=external_id, last_file_id=file_id
            )

        migrate(latest())

        access = {
            (a.user.username, a.entity_type.name): a.level
            for a in EntityAccess.objects.select_related("user", "entity_type")
        }
        assert access == {
            ("alice", "Profile"): EntityRight.DELETE,
            ("bob", "Account"): EntityRight.DELETE,
            ("carol", "Account"): EntityRight.WRITE,
        }
        assert all(run_refusal(c) is None for c in Connector.objects.all())
        assert Connector.objects.get(name="b").sync_delete_limit_percent == 10
        assert dict(Record.objects.values_list("external_id", "connector_id")) == {
            "by-a": upserting.pk,
            "by-b": syncing.pk,
            "file-gone": None,
            "never-ingested": None,
        }
    finally:
        migrate(latest())
