"""Who sees and does what: alice owns, bob shares through a group, charlie has no access."""

from typing import Any

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from connectors.models import AccessLevel, Connector
from connectors.selectors import may_change_shares
from tests.support.factories import grant, make_connector

ENDPOINT = ""


@pytest.fixture
def connector(alice) -> Connector:
    return make_connector(alice, bucket="acme-data", endpoint=ENDPOINT)


def signed_in(user: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", f"/connectors/{pk}/"),
        ("get", f"/connectors/{pk}/edit/"),
        ("post", f"/connectors/{pk}/toggle/"),
        ("post", f"/connectors/{pk}/test/"),
        ("get", f"/connectors/{pk}/delete/"),
        ("post", f"/connectors/{pk}/delete/"),
        ("post", f"/connectors/{pk}/run/"),
        ("get", f"/connectors/{pk}/runs/"),
    ]


def test_charlie_gets_404_everywhere(charlie, connector) -> None:
    client = signed_in(charlie)
    for method, url in urls(connector.pk):
        assert getattr(client, method)(url).status_code == 404, url
    assert Connector.objects.filter(pk=connector.pk, enabled=True).exists()


def test_anonymous_users_are_sent_to_sign_in(db, connector) -> None:
    for method, url in urls(connector.pk):
        response = getattr(Client(), method)(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_list_shows_only_visible_connectors(alice, bob, charlie, team, connector) -> None:
    grant(user=charlie)  # to own a connector of his own
    make_connector(charlie, bucket="other-data", endpoint=ENDPOINT, name="Charlie's")
    assert "Profiles" in signed_in(alice).get("/connectors/").content.decode()
    assert "Charlie" not in signed_in(alice).get("/connectors/").content.decode()
    assert "Profiles" not in signed_in(bob).get("/connectors/").content.decode()
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    assert "Profiles" in signed_in(bob).get("/connectors/").content.decode()


def test_a_view_share_can_look_but_not_touch(bob, team, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    client = signed_in(bob)
    assert client.get(f"/connectors/{connector.pk}/").status_code == 200
    assert client.get(f"/connectors/{connector.pk}/runs/").status_code == 200
    for method, url in urls(connector.pk)[1:]:
        if url.endswith("/runs/"):
            continue
        assert getattr(client, method)(url).status_code == 404, url


def test_an_edit_share_can_edit_and_toggle_but_not_delete(bob, team, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    client = signed_in(bob)
    assert client.get(f"/connectors/{connector.pk}/edit/").status_code == 200
    assert client.post(f"/connectors/{connector.pk}/toggle/", {"enabled": "0"}).status_code == 302
    assert client.get(f"/connectors/{connector.pk}/delete/").status_code == 404
    assert client.post(f"/connectors/{connector.pk}/delete/").status_code == 404


def test_a_full_share_can_delete(bob, team, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.FULL)
    assert signed_in(bob).post(f"/connectors/{connector.pk}/delete/").status_code == 302
    assert not Connector.objects.filter(pk=connector.pk).exists()


def test_delete_asks_first_then_removes_the_connector_and_its_schedule(alice, connector) -> None:
    client = signed_in(alice)
    task_id = connector.periodic_task_id
    page = client.get(f"/connectors/{connector.pk}/delete/").content.decode()
    assert "Delete “Profiles”?" in page and Connector.objects.filter(pk=connector.pk).exists()
    client.post(f"/connectors/{connector.pk}/delete/")
    assert not Connector.objects.filter(pk=connector.pk).exists()
    assert not PeriodicTask.objects.filter(pk=task_id).exists()


def test_disable_and_enable_switch_the_schedule_too(alice, connector) -> None:
    connector.schedule_active = True
    connector.save()
    client = signed_in(alice)
    client.post(f"/connectors/{connector.pk}/toggle/", {"enabled": "0"})
    connector.refresh_from_db()
    assert not connector.enabled and not connector.periodic_task.enabled
    client.post(f"/connectors/{connector.pk}/toggle/", {"enabled": "1"})
    connector.refresh_from_db()
    assert connector.enabled and connector.periodic_task.enabled


def test_csrf_is_enforced_on_every_action(alice, connector) -> None:
    client = signed_in(alice, csrf=True)
    for url in (
        f"/connectors/{connector.pk}/toggle/",
        f"/connectors/{connector.pk}/delete/",
        f"/connectors/{connector.pk}/test/",
        f"/connectors/{connector.pk}/run/",
    ):
        assert client.post(url).status_code == 403, url
    assert Connector.objects.filter(pk=connector.pk, enabled=True).exists()


def test_only_the_owner_and_full_access_may_change_the_shares(
    alice, bob, charlie, team, connector
) -> None:
    assert may_change_shares(alice, connector)
    assert may_change_shares(charlie, None)  # a new connector, which charlie would own
    assert not may_change_shares(charlie, connector)
    share = connector.shares.create(group=team, access=AccessLevel.VIEW)
    levels = [(AccessLevel.VIEW, False), (AccessLevel.EDIT, False), (AccessLevel.FULL, True)]
    for access, may in levels:
        share.access = access
        share.save()
        assert may_change_shares(bob, connector) is may, access
