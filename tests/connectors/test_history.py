"""The change history on the connector page: who changed what, when, before and after (wizard,
admin, rotate_secrets), secrets only as "changed" and kept nowhere, and only for those who may
view the connector."""

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from simple_history.models import registered_models

from connectors import crypto, services
from connectors.history import NO_USER, SECRET_MARKERS, HistoryEntry, connector_history
from connectors.models import AccessLevel, Connector, ConnectorShare, S3Settings
from connectors.sources.s3 import ROTATED
from entities.models import EntityField, EntityRight, EntityType
from tests.support.factories import SECRET, grant, make_connector
from tests.support.pages import signed_in
from tests.support.wizard import (
    entity_settings_values,
    s3_access_key_values,
    source_values,
    walk_wizard,
)

pytestmark = pytest.mark.django_db

NEW_SECRET = "bPxRfiCYEXAMPLEKEYwJalrXUtnFEMI/K7MDENG0"
# Every model django-simple-history keeps the history of.
HISTORY_MODELS = tuple(registered_models.values())


@pytest.fixture
def connector(alice: User) -> Connector:
    return make_connector(alice, bucket="acme-data", endpoint="")


@pytest.fixture
def editor(bob: User, team: Any, connector: Connector) -> User:
    """bob, who may edit alice's connector (a share with his group) and write into Profile."""
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    grant(user=bob, level=EntityRight.DELETE)
    return bob


def edit_in_wizard(user: User, connector: Connector, **source_settings: str) -> None:
    response = walk_wizard(
        signed_in(user),
        f"/connectors/{connector.pk}/edit/",
        settings=entity_settings_values(poll_interval_minutes="15"),
        source=source_values(name="Profiles nightly"),
        source_settings=s3_access_key_values("acme-data", **source_settings),
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def changes(entry: HistoryEntry) -> dict[str, tuple[str, str]]:
    return {change.label: (change.before, change.after) for change in entry.changes}


def entry_for(entries: list[HistoryEntry], subject: str, action: str = "changed") -> HistoryEntry:
    found = [e for e in entries if e.subject == subject and e.action == action]
    assert len(found) == 1, entries
    return found[0]


def history_tables_text() -> str:
    """Every row of every history table, as text."""
    rows = []
    with connection.cursor() as cursor:
        for model in HISTORY_MODELS:
            cursor.execute(f"SELECT * FROM {model.history.model._meta.db_table}")  # noqa: S608
            rows += [repr(row) for row in cursor.fetchall()]
    return "\n".join(rows)


def test_a_new_connector_has_its_creation_and_nothing_else(connector: Connector) -> None:
    entries = connector_history(connector)

    assert sorted((e.subject, e.action) for e in entries) == [
        ("Connector", "created"),
        ("Source settings (S3)", "created"),
    ]
    assert {e.who for e in entries} == {NO_USER}


def test_a_wizard_edit_records_who_changed_which_fields_before_and_after(
    connector: Connector, editor: User
) -> None:
    edit_in_wizard(editor, connector, access_key_secret="", success_path="processed/")

    entries = connector_history(connector)
    edited = entry_for(entries, "Connector")
    assert edited.who == "bob"
    assert changes(edited)["Connector Name"] == ("Profiles", "Profiles nightly")
    assert changes(edited)["Poll interval minutes"] == ("30", "15")
    assert changes(edited)["Schedule active"] == ("no", "yes")
    source = entry_for(entries, "Source settings (S3)")
    assert source.who == "bob"
    assert changes(source) == {"Successful Files Directory Path": ("done/", "processed/")}

    page = signed_in(editor).get(connector.get_absolute_url()).content.decode()
    assert "<strong>Connector Name</strong>: Profiles → Profiles nightly" in page
    assert "<strong>Successful Files Directory Path</strong>: done/ → processed/" in page
    assert "<td>bob</td>" in page


def test_a_secret_change_is_recorded_as_changed_and_its_text_is_kept_nowhere(
    connector: Connector, editor: User
) -> None:
    old_token = connector.s3.access_key_secret_encrypted

    edit_in_wizard(editor, connector, access_key_secret=NEW_SECRET)

    connector.s3.refresh_from_db()
    new_token = connector.s3.access_key_secret_encrypted
    assert crypto.decrypt(new_token) == NEW_SECRET
    source = entry_for(connector_history(connector), "Source settings (S3)")
    assert source.who == "bob"
    secret_change = [change for change in source.changes if change.label == "Access Key Secret"]
    assert len(secret_change) == 1 and secret_change[0].secret
    assert (secret_change[0].before, secret_change[0].after) == ("", "")

    page = signed_in(editor).get(connector.get_absolute_url()).content.decode()
    assert "<strong>Access Key Secret</strong>: changed" in page
    stored = history_tables_text()
    assert "Profiles nightly" in stored  # the tables were read
    for text in (SECRET, NEW_SECRET, old_token, new_token):
        assert text not in stored
        assert text not in page


def test_no_history_table_keeps_a_secret_column() -> None:
    assert {Connector, S3Settings, ConnectorShare, EntityType, EntityField} <= set(HISTORY_MODELS)
    for model in HISTORY_MODELS:
        for field in model.history.model._meta.concrete_fields:
            if any(word in field.name for word in ("secret", "password", "token")):
                assert field.name in SECRET_MARKERS, f"{model.__name__}.{field.name}"


def test_rotate_secrets_is_recorded_without_a_user_and_says_why(
    connector: Connector, settings
) -> None:
    old = settings.LOADBAY_ENCRYPTION_KEYS[0]
    settings.LOADBAY_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]

    call_command("rotate_secrets", stdout=None)

    rotated = entry_for(connector_history(connector), "Source settings (S3)")
    assert rotated.who == NO_USER and rotated.reason == ROTATED
    assert [(c.label, c.secret) for c in rotated.changes] == [("Access Key Secret", True)]
    assert connector.s3.access_key_secret_encrypted not in history_tables_text()


def test_shares_and_enabling_are_recorded(connector: Connector, team: Any) -> None:
    share = connector.shares.create(group=team, access=AccessLevel.VIEW)
    share.access = AccessLevel.EDIT
    share.save()
    services.set_enabled(connector, enabled=False)

    entries = connector_history(connector)

    assert entry_for(entries, "Share with data-team", "created")
    assert changes(entry_for(entries, "Share with data-team")) == {
        "Access": (
            "View (see the connector and its runs)",
            "Edit (change, run, enable and disable)",
        )
    }
    assert changes(entry_for(entries, "Connector")) == {"Enabled": ("yes", "no")}


def test_a_user_without_view_access_cannot_see_the_history(
    connector: Connector, team: Any, bob: User, charlie: User
) -> None:
    services.set_enabled(connector, enabled=False)
    assert signed_in(charlie).get(connector.get_absolute_url()).status_code == 404
    assert Client().get(connector.get_absolute_url()).status_code == 302  # to sign in

    connector.shares.create(group=team, access=AccessLevel.VIEW)
    page = signed_in(bob).get(connector.get_absolute_url()).content.decode()
    assert 'id="history"' in page and "<strong>Enabled</strong>: yes → no" in page


def test_entity_type_field_changes_in_admin_are_recorded_with_the_administrator(
    alice: User,
) -> None:
    card = EntityType.objects.create(name="Loyalty Card", category="custom")
    field = card.fields.create(name="card_number", is_unique_identifier=True)
    grant(user=alice, entity="Loyalty Card")
    connector = make_connector(
        alice, bucket="cards", endpoint="", entity="Loyalty Card", name="Cards"
    )
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    form = {
        "name": "Loyalty Card",
        "category": "custom",
        "description": "Cards of the loyalty programme",
        "fields-TOTAL_FORMS": "1",
        "fields-INITIAL_FORMS": "1",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
        "fields-0-id": str(field.pk),
        "fields-0-entity_type": str(card.pk),
        "fields-0-name": "card_number",
        "fields-0-label": "Card number",
        "fields-0-field_type": "text",
        "fields-0-is_unique_identifier": "on",
        "fields-0-max_length": "16",
        "fields-0-position": "0",
        "access-TOTAL_FORMS": "0",
        "access-INITIAL_FORMS": "0",
        "access-MIN_NUM_FORMS": "0",
        "access-MAX_NUM_FORMS": "1000",
    }

    response = signed_in(root).post(f"/admin/entities/entitytype/{card.pk}/change/", form)

    assert response.status_code == 302
    entries = connector_history(connector)
    field_entry = entry_for(entries, "Field card_number of entity type Loyalty Card")
    assert field_entry.who == "root"
    assert changes(field_entry) == {
        "Label": ("(blank)", "Card number"),
        "Max length": ("(blank)", "16"),
    }
    type_entry = entry_for(entries, "Entity type Loyalty Card")
    assert changes(type_entry) == {"Description": ("(blank)", "Cards of the loyalty programme")}
    page = signed_in(alice).get(connector.get_absolute_url()).content.decode()
    assert "Field card_number of entity type Loyalty Card changed" in page
    assert "<strong>Label</strong>: (blank) → Card number" in page
