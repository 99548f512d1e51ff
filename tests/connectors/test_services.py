"""save_connector's shares: saved with a new connector, replaced or kept when it is edited, and
changed only by its owner and users with full access."""

from typing import Any

import pytest
from django.contrib.auth.models import Group

from connectors import services
from connectors.models import AccessLevel, Connector
from connectors.sources import get_source
from tests.support.factories import grant, make_connector


def save(connector: Connector, *, actor: Any, name: str | None = None, **kwargs: Any) -> Connector:
    """Save `connector` again as it is (renamed to `name`), as the wizard's done() does."""
    settings = get_source("s3").initial_from(connector)
    settings["access_key_secret"] = connector.s3.access_key_secret_encrypted
    return services.save_connector(
        owner=connector.owner,
        actor=actor,
        connector=connector,
        entity_type=connector.entity_type,
        entity_settings={name: getattr(connector, name) for name in services.ENTITY_SETTING_NAMES},
        source={"entity_source": "s3", "name": name or connector.name, "description": ""},
        source_settings=settings,
        **kwargs,
    )


def shares(connector: Connector) -> set[tuple[str, int]]:
    return {(share.group.name, share.access) for share in connector.shares.all()}


@pytest.fixture
def auditors(db: Any) -> Group:
    return Group.objects.create(name="auditors")


@pytest.fixture
def connector(alice: Any) -> Connector:
    return make_connector(alice, bucket="acme-data", endpoint="")


def test_a_new_connector_is_shared_with_no_one_unless_shares_are_given(connector) -> None:
    assert shares(connector) == set()


def test_the_owner_saves_shares_and_saving_again_replaces_them(
    alice, team, auditors, connector
) -> None:
    save(connector, actor=alice, shares={team: AccessLevel.EDIT, auditors: AccessLevel.VIEW})
    assert shares(connector) == {("data-team", AccessLevel.EDIT), ("auditors", AccessLevel.VIEW)}
    save(connector, actor=alice, shares={team: AccessLevel.FULL})
    assert shares(connector) == {("data-team", AccessLevel.FULL)}
    save(connector, actor=alice, shares={})
    assert shares(connector) == set()


def test_no_shares_given_keeps_them_as_they_are(alice, team, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    save(connector, actor=alice, name="Renamed")
    assert shares(connector) == {("data-team", AccessLevel.VIEW)}


def test_a_full_access_user_may_change_the_shares(bob, team, auditors, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.FULL)
    grant(user=bob)
    save(connector, actor=bob, shares={team: AccessLevel.FULL, auditors: AccessLevel.VIEW})
    assert shares(connector) == {("data-team", AccessLevel.FULL), ("auditors", AccessLevel.VIEW)}


def test_an_edit_share_may_not_change_the_shares_and_nothing_is_saved(
    bob, team, auditors, connector
) -> None:
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    grant(user=bob)
    with pytest.raises(services.SharingDenied, match="Only the connector's owner and users"):
        save(connector, actor=bob, name="Taken over", shares={auditors: AccessLevel.FULL})
    connector.refresh_from_db()
    assert connector.name == "Profiles"
    assert shares(connector) == {("data-team", AccessLevel.EDIT)}
    save(connector, actor=bob, name="Edited")  # his edits keep the shares
    assert shares(connector) == {("data-team", AccessLevel.EDIT)}


def test_an_access_level_that_is_none_of_view_edit_or_full_saves_nothing(
    alice, team, connector
) -> None:
    with pytest.raises(ValueError, match="7"):
        save(connector, actor=alice, name="Renamed", shares={team: 7})
    connector.refresh_from_db()
    assert connector.name == "Profiles" and shares(connector) == set()
