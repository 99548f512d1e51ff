"""The Source interface: a second source (tests/support/fake_source.py, which knows nothing of
S3) is chosen, configured, tested, saved, shown, edited and administered through it alone."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from connectors import crypto
from connectors.models import Connector
from connectors.sources import SOURCES
from tests.support.fake_source import TEMPLATES, FakeSettingsForm, FakeSource
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    post_step,
    press_test_connection,
    source_values,
    through_to_review,
)

NEW = "/connectors/new/"
PASSWORD = "fake-password-typed-once"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, settings: Any) -> FakeSource:
    """A second source, registered, whose settings template the wizard can find."""
    source = FakeSource()
    monkeypatch.setitem(SOURCES, source.key, source)
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "DIRS": [*engine["DIRS"], TEMPLATES]}]
    return source


@pytest.fixture
def client_alice(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def to_fake_settings(client: Client, url: str = NEW, name: str = "Fake profiles") -> Any:
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    return post_step(client, url, "source", source_values(name=name, entity_source="fake"))


def sessions() -> str:
    return " ".join(f"{s.session_data} {s.get_decoded()}" for s in Session.objects.all())


def test_the_wizard_offers_every_registered_source(fake: FakeSource, client_alice: Client) -> None:
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    page = post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    choices = page.context["form"].fields["entity_source"].choices
    assert ("fake", "Fake folder") in choices and ("s3", "S3") in choices


def test_step_4_is_the_chosen_sources_form_and_template(
    fake: FakeSource, client_alice: Client
) -> None:
    page = to_fake_settings(client_alice)
    assert page.context["wizard"]["steps"].current == "source_settings"
    html = page.content.decode()
    assert 'name="source_settings-folder"' in html and 'name="source_settings-bucket"' not in html
    assert '<code id="external-id">fake-1</code>' in html


def test_test_connection_checks_the_typed_settings_with_the_sources_own_checks(
    fake: FakeSource, client_alice: Client
) -> None:
    to_fake_settings(client_alice)
    values = {"folder": "inbox", "password": PASSWORD}
    tested = press_test_connection(client_alice, NEW, "source_settings", values)
    assert tested.context["wizard"]["steps"].current == "source_settings"
    assert "✓ Open the fake folder" in tested.content.decode()
    (seen,) = fake.tested
    assert seen["folder"] == "inbox" and seen["external_id"] == "fake-1"
    assert crypto.decrypt(seen["password"]) == PASSWORD
    assert PASSWORD not in sessions() and PASSWORD not in tested.content.decode()


def test_a_fake_connector_is_saved_with_its_secret_as_a_token_and_its_external_id(
    fake: FakeSource, client_alice: Client, alice: User
) -> None:
    to_fake_settings(client_alice)
    mapping = post_step(
        client_alice, NEW, "source_settings", {"folder": "inbox", "password": PASSWORD}
    )
    assert "The Fake folder source cannot list its files here." in mapping.content.decode()
    assert 'name="sample_file"' in mapping.content.decode()  # an upload instead
    review = through_to_review(client_alice, NEW)
    page = review.content.decode()
    assert "Fake folder" in page and "inbox" in page and "••••••••" in page
    assert "fake-1" in page and PASSWORD not in page and PASSWORD not in sessions()
    again = press_test_connection(client_alice, NEW, "review", {})
    assert "✓ Open the fake folder" in again.content.decode()
    saved = post_step(client_alice, NEW, "review", {})

    connector = Connector.objects.get(owner=alice)
    assert saved["Location"] == connector.get_absolute_url()
    assert connector.source_type == "fake"
    stored = fake.saved[connector.pk]
    assert stored["folder"] == "inbox" and stored["external_id"] == "fake-1"
    assert crypto.decrypt(stored["password"]) == PASSWORD


@pytest.fixture
def fake_connector(fake: FakeSource, client_alice: Client, alice: User) -> Connector:
    to_fake_settings(client_alice)
    post_step(client_alice, NEW, "source_settings", {"folder": "inbox", "password": PASSWORD})
    through_to_review(client_alice, NEW)
    post_step(client_alice, NEW, "review", {})
    return Connector.objects.get(owner=alice)


def test_the_connector_pages_show_and_test_it_through_its_source(
    fake: FakeSource, fake_connector: Connector, client_alice: Client
) -> None:
    listing = client_alice.get("/connectors/").content.decode()
    assert "Fake folder" in listing
    page = client_alice.get(fake_connector.get_absolute_url()).content.decode()
    assert "Source: Fake folder" in page and "inbox" in page and PASSWORD not in page
    tested = client_alice.post(f"/connectors/{fake_connector.pk}/test/").content.decode()
    assert "✓ Open the fake folder" in tested


def test_editing_keeps_the_stored_secret_and_external_id(
    fake: FakeSource, fake_connector: Connector, client_alice: Client
) -> None:
    url = f"/connectors/{fake_connector.pk}/edit/"
    step_4 = to_fake_settings(client_alice, url, name=fake_connector.name)
    assert step_4.context["form"].initial == {"folder": "inbox"}
    post_step(client_alice, url, "source_settings", {"folder": "outbox", "password": ""})
    through_to_review(client_alice, url)
    post_step(client_alice, url, "review", {})
    stored = fake.saved[fake_connector.pk]
    assert stored["folder"] == "outbox" and stored["external_id"] == "fake-1"
    assert crypto.decrypt(stored["password"]) == PASSWORD


def test_admin_shows_only_the_connectors_own_sources_settings(
    fake: FakeSource, fake_connector: Connector
) -> None:
    root = User.objects.create_superuser("root", "", "pw-for-tests-only")
    client = Client()
    client.force_login(root)
    page = client.get(f"/admin/connectors/connector/{fake_connector.pk}/change/")
    assert page.status_code == 200
    assert "S3 settings" not in page.content.decode()


def test_rotate_secrets_rotates_every_sources_secrets(
    fake: FakeSource, fake_connector: Connector
) -> None:
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    assert "Re-encrypted 1 secret(s)." in out.getvalue()
    assert crypto.decrypt(fake.saved[fake_connector.pk]["password"]) == PASSWORD


class PlainSecretForm(FakeSettingsForm):
    """A faulty form that hands back the password as typed."""

    def clean_password(self) -> str:
        typed: str = self.cleaned_data["password"]
        return typed


def test_a_form_that_would_keep_a_secret_in_plain_text_is_refused_before_the_session(
    fake: FakeSource, client_alice: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeSource, "settings_form", PlainSecretForm)
    to_fake_settings(client_alice)
    with pytest.raises(ImproperlyConfigured, match="must clean password into an encrypted token"):
        post_step(client_alice, NEW, "source_settings", {"folder": "inbox", "password": PASSWORD})
    assert PASSWORD not in sessions()


def test_a_source_that_cannot_list_gives_the_wizard_no_client_and_no_directories(
    fake: FakeSource,
) -> None:
    """Field Mapping then asks for an uploaded sample (tests/wizard/test_field_mapping.py)."""
    assert fake.settings_client({"folder": "inbox"}, external_id="fake-1") is None
    assert fake.settings_directories({"folder": "inbox"}) is None
