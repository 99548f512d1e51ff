"""The wizard lists and accepts only what the user (and, editing, the connector's owner) may
write into, refuses Sync without delete access, and asks Sync for its deletion limit. alice
may write into and delete from every entity; charlie has no access; bob shares alice's
connector through a group."""

from typing import Any

import pytest
from django.test import Client

from connectors.models import AccessLevel, Connector
from entities.models import EntityAccess, EntityRight, EntityType
from tests.support.factories import grant, make_connector
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    post_step,
    s3_access_key_values,
    source_values,
    through_to_review,
    walk_wizard,
)

NEW = "/connectors/new/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def current_step(response: Any) -> str:
    return response.context["wizard"]["steps"].current


def test_charlie_is_told_he_may_write_into_no_entity(charlie) -> None:
    page = signed_in(charlie).get(NEW).content.decode()
    assert "You may not write into any entity yet" in page
    assert "Profile" not in page


def test_charlie_cannot_pick_profile_by_posting_its_id(charlie) -> None:
    client = signed_in(charlie)
    client.get(NEW)
    response = post_step(client, NEW, "entity", entity_values("Profile"))
    assert current_step(response) == "entity"
    assert "Choose one of the listed entities" in response.content.decode()


def test_only_the_entities_a_user_may_write_into_are_listed(charlie) -> None:
    grant(user=charlie, entity="Account")
    choices = signed_in(charlie).get(NEW).context["form"].fields["entity"].choices
    names = [name for _, group in choices[1:] for _, name in group]
    assert names == ["Account"]


def test_a_groups_access_counts_for_its_members(bob, team) -> None:
    grant(group=team, entity="Profile")
    client = signed_in(bob)
    client.get(NEW)
    response = post_step(client, NEW, "entity", entity_values("Profile"))
    assert current_step(response) == "entity_settings"


def test_sync_is_refused_without_delete_access(charlie) -> None:
    grant(user=charlie, entity="Profile", level=EntityRight.WRITE)
    client = signed_in(charlie)
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    response = post_step(
        client, NEW, "entity_settings", entity_settings_values(integration_type="sync")
    )
    assert current_step(response) == "entity_settings"
    errors = response.context["form"].errors["integration_type"]
    assert errors == [
        "You may not delete Profile records, which Integration Type Sync does: choose another "
        "Integration Type, or ask an administrator for delete access (Django admin: Entity "
        "types → Profile → Access)."
    ]


def test_the_sync_help_says_what_it_removes_and_what_it_needs(alice) -> None:
    client = signed_in(alice)
    client.get(NEW)
    page = post_step(client, NEW, "entity", entity_values()).content.decode()
    assert "removes the records this connector wrote that are not in the file" in page
    assert "records other connectors wrote are never removed" in page
    assert "Needs delete access to the entity." in page
    assert 'data-show-when-integration="sync"' in page and "Sync deletion limit (%)" in page


def test_a_sync_connector_is_saved_with_its_deletion_limit(alice, s3_endpoint) -> None:
    client = signed_in(alice)
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    settings = entity_settings_values(integration_type="sync", sync_delete_limit_percent="25")
    post_step(client, NEW, "entity_settings", settings)
    post_step(client, NEW, "source", source_values())
    post_step(
        client, NEW, "source_settings", s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    review = through_to_review(client, NEW)
    assert "Sync deletion limit" in review.content.decode()
    assert "25% of the records this connector wrote" in review.content.decode()
    response = post_step(client, NEW, "review", {})
    connector = Connector.objects.get(owner=alice)
    assert response.status_code == 302
    assert (connector.integration_type, connector.sync_delete_limit_percent) == ("sync", 25)
    page = client.get(f"/connectors/{connector.pk}/").content.decode()
    assert "25% of the records this connector wrote" in page


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "Enter the deletion limit: a percentage from 0 to 100 (100: no limit)."),
        ("150", "Ensure this value is less than or equal to 100."),
        ("-1", "Ensure this value is greater than or equal to 0."),
    ],
)
def test_sync_needs_a_deletion_limit_from_0_to_100(alice, value, error) -> None:
    client = signed_in(alice)
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    settings = entity_settings_values(integration_type="sync", sync_delete_limit_percent=value)
    response = post_step(client, NEW, "entity_settings", settings)
    assert response.context["form"].errors["sync_delete_limit_percent"] == [error]


def test_other_integration_types_keep_the_default_limit(alice, s3_endpoint) -> None:
    values = s3_access_key_values("acme-data", endpoint=s3_endpoint)
    walk_wizard(signed_in(alice), NEW, source_settings=values)
    assert Connector.objects.get(owner=alice).sync_delete_limit_percent == 10


@pytest.fixture
def shared(alice, team) -> Connector:
    """alice's Upsert connector into Profile, which bob may edit through his group."""
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    return connector


def edit_to_sync(client: Client, connector: Connector) -> Any:
    url = f"/connectors/{connector.pk}/edit/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    return post_step(
        client, url, "entity_settings", entity_settings_values(integration_type="sync")
    )


def test_an_edit_share_without_delete_access_cannot_switch_a_connector_to_sync(bob, shared) -> None:
    grant(user=bob, entity="Profile", level=EntityRight.WRITE)
    response = edit_to_sync(signed_in(bob), shared)
    assert current_step(response) == "entity_settings"
    assert (
        response.context["form"]
        .errors["integration_type"][0]
        .startswith("You may not delete Profile records")
    )
    shared.refresh_from_db()
    assert shared.integration_type == "upsert"


def test_an_editor_cannot_give_a_connector_access_its_owner_lacks(alice, bob, shared) -> None:
    grant(user=bob, entity="Profile", level=EntityRight.DELETE)
    EntityAccess.objects.filter(user=alice).update(level=EntityRight.WRITE)
    response = edit_to_sync(signed_in(bob), shared)
    assert (
        response.context["form"]
        .errors["integration_type"][0]
        .startswith(
            "alice, who owns this connector and whose access its runs use, may not delete Profile "
            "records"
        )
    )


def test_an_edit_share_without_write_access_cannot_save_the_connector(bob, shared) -> None:
    client = signed_in(bob)
    url = f"/connectors/{shared.pk}/edit/"
    assert "You may not write into any entity yet" in client.get(url).content.decode()
    response = post_step(client, url, "entity", entity_values())
    assert current_step(response) == "entity"


def test_the_entities_listed_to_an_editor_are_those_the_owner_may_write_into_too(
    alice, bob, shared
) -> None:
    grant(user=bob, entity="Profile")
    grant(user=bob, entity="Account")
    EntityAccess.objects.filter(user=alice, entity_type__name="Account").delete()
    form = signed_in(bob).get(f"/connectors/{shared.pk}/edit/").context["form"]
    names = [name for _, group in form.fields["entity"].choices[1:] for _, name in group]
    assert names == ["Profile"]


def test_access_revoked_before_save_sends_the_user_back_with_nothing_saved(
    alice, s3_endpoint
) -> None:
    """The steps were valid, then an administrator took the access away: the wizard checks
    every step again before saving."""
    client = signed_in(alice)
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    post_step(client, NEW, "entity_settings", entity_settings_values())
    post_step(client, NEW, "source", source_values())
    post_step(
        client, NEW, "source_settings", s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    through_to_review(client, NEW)
    EntityAccess.objects.filter(
        user=alice, entity_type=EntityType.objects.get(name="Profile")
    ).delete()
    response = post_step(client, NEW, "review", {})
    assert not Connector.objects.exists()
    assert current_step(response) == "entity"
    assert "Choose one of the listed entities" in response.content.decode()
