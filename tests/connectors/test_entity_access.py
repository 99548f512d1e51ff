"""Saving a connector needs access to its entity, for the saver and for the owner whose access
its runs use: in connectors.services (what the wizard calls) and in Django admin."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from connectors import crypto, services
from connectors.models import AccessLevel, Connector
from entities.models import EntityAccess, EntityRight, EntityType
from tests.support.factories import SECRET, grant, make_connector


def save(owner: Any, *, actor: Any = None, connector: Any = None, **settings: Any) -> Connector:
    entity_settings = {
        "integration_type": "upsert",
        "file_format": "csv",
        "csv_delimiter": ",",
        "file_pattern": "",
        "field_mapping": {"profile_id": "profile_id"},
        "error_tolerance": "0",
        "sync_delete_limit_percent": 10,
        "schedule_active": False,
        "poll_interval_minutes": 30,
        **settings,
    }
    return services.save_connector(
        owner=owner,
        actor=actor,
        connector=connector,
        entity_type=EntityType.objects.get(name="Profile"),
        entity_settings=entity_settings,
        source={"entity_source": "s3", "name": "Mine", "description": ""},
        source_settings={
            "bucket": "own-bucket",
            "auth_type": "access_key",
            "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "access_key_secret": crypto.encrypt(SECRET),
            "iam_role_arn": "",
            "region": "",
            "endpoint_url": "",
            "source_path": "incoming/",
            "success_path": "",
            "failed_path": "",
        },
    )


def test_charlie_cannot_save_a_connector_into_an_entity_he_may_not_write(charlie) -> None:
    with pytest.raises(services.EntityAccessDenied, match="You may not write into Profile"):
        save(charlie)
    assert not Connector.objects.exists()


def test_a_sync_connector_needs_delete_access(charlie) -> None:
    grant(user=charlie, entity="Profile", level=EntityRight.WRITE)
    with pytest.raises(services.EntityAccessDenied, match="may not delete Profile records"):
        save(charlie, integration_type="sync")
    assert save(charlie).integration_type == "upsert"
    grant(user=charlie, entity="Profile", level=EntityRight.DELETE)
    assert save(charlie, connector=Connector.objects.get(), integration_type="sync")


def test_an_editor_needs_the_access_as_well_as_the_owner(alice, bob) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    with pytest.raises(services.EntityAccessDenied, match=r"^You may not write into Profile"):
        save(alice, actor=bob, connector=connector)
    grant(user=bob, entity="Profile", level=EntityRight.DELETE)
    EntityAccess.objects.filter(user=alice).update(level=EntityRight.WRITE)
    with pytest.raises(services.EntityAccessDenied, match=r"^alice, who owns this connector"):
        save(alice, actor=bob, connector=connector, integration_type="sync")
    connector.refresh_from_db()
    assert connector.integration_type == "upsert"


def admin_client() -> Client:
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(root)
    return client


def test_admin_refuses_a_connector_its_owner_could_not_run(alice) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    EntityAccess.objects.filter(user=alice).update(level=EntityRight.WRITE)
    client = admin_client()
    url = f"/admin/connectors/connector/{connector.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data |= {
        "integration_type": "sync",
        "field_mapping": '{"profile_id": "profile_id"}',
        "owner": alice.pk,
        "entity_type": connector.entity_type_id,
        "s3-TOTAL_FORMS": "1",
        "s3-INITIAL_FORMS": "1",
        "s3-0-id": connector.s3.pk,
        "s3-0-connector": connector.pk,
        "s3-0-bucket": "acme-data",
        "s3-0-auth_type": "access_key",
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
    }
    data.pop("periodic_task", None)
    page = client.post(url, data).content.decode()
    assert "alice, who owns this connector and whose access its runs use, may not delete" in page
    connector.refresh_from_db()
    assert connector.integration_type == "upsert"


def test_the_connector_page_says_when_runs_are_refused(alice, team, bob) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    client = Client()
    client.force_login(bob)
    assert 'id="run-refusal"' not in client.get(f"/connectors/{connector.pk}/").content.decode()
    EntityAccess.objects.filter(user=alice).delete()
    page = client.get(f"/connectors/{connector.pk}/").content.decode()
    assert "Runs are refused:" in page and "alice, who owns this connector" in page
