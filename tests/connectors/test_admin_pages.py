"""Django admin: connectors with their secret masked, entity types with one unique field."""

from django.contrib.auth.models import User
from django.test import Client

from entities.models import EntityAccess, EntityRight, EntityType
from tests.support.factories import SECRET, make_connector


def admin_client(db) -> Client:
    root = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(root)
    return client


def test_admin_never_shows_the_secret(db, alice) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    client = admin_client(db)
    for url in (
        "/admin/connectors/connector/",
        f"/admin/connectors/connector/{connector.pk}/change/",
    ):
        page = client.get(url).content.decode()
        assert SECRET not in page
        assert connector.s3.access_key_secret_encrypted not in page
    change = client.get(f"/admin/connectors/connector/{connector.pk}/change/").content.decode()
    assert "stored, encrypted" in change


def test_custom_entities_need_exactly_one_unique_identifier(db) -> None:
    client = admin_client(db)
    form = {
        "name": "Loyalty Card",
        "category": "custom",
        "description": "",
        "fields-TOTAL_FORMS": "2",
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
        "fields-0-name": "card_number",
        "fields-0-field_type": "text",
        "fields-0-position": "0",
        "fields-1-name": "points",
        "fields-1-field_type": "integer",
        "fields-1-position": "1",
        "access-TOTAL_FORMS": "0",
        "access-INITIAL_FORMS": "0",
        "access-MIN_NUM_FORMS": "0",
        "access-MAX_NUM_FORMS": "1000",
    }
    response = client.post("/admin/entities/entitytype/add/", form)
    assert "Mark exactly one field as the unique identifier." in response.content.decode()
    form["fields-0-is_unique_identifier"] = "on"
    response = client.post("/admin/entities/entitytype/add/", form)
    assert response.status_code == 302
    card = EntityType.objects.get(name="Loyalty Card")
    assert card.unique_field.name == "card_number"


def test_custom_entities_appear_in_the_wizard(db, alice) -> None:
    card = EntityType.objects.create(name="Loyalty Card", category="custom")
    EntityAccess.objects.create(entity_type=card, user=alice, level=EntityRight.WRITE)
    client = Client()
    client.force_login(alice)
    page = client.get("/connectors/new/").content.decode()
    assert 'optgroup label="Custom entities"' in page and "Loyalty Card" in page
    assert (
        'optgroup label="System entities"' in page and 'optgroup label="Standard entities"' in page
    )


def test_the_admin_run_now_action_starts_a_run(
    db, alice, django_capture_on_commit_callbacks
) -> None:
    from ingest.models import Run

    connector = make_connector(alice, bucket="acme-data", endpoint="")
    client = admin_client(db)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/admin/connectors/connector/",
            {"action": "run_now", "_selected_action": [connector.pk]},
            follow=True,
        )
    run = Run.objects.get(connector=connector)
    assert run.trigger == "manual" and run.triggered_by.username == "root"
    assert f"Run {run.pk} of" in response.content.decode()
    assert len(callbacks) == 1  # the task is sent once the transaction commits
