"""The wizard through the test client: every step, Back, edit, secrets kept out of the session."""

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from connectors.models import Connector
from ingest import inline, runs
from tests.support.factories import GOOD_CSV, put
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    press_test_connection,
    s3_access_key_values,
    source_values,
    through_to_review,
    walk_wizard,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
NEW = "/connectors/new/"


@pytest.fixture
def client_alice(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def test_it_requires_login(db) -> None:
    response = Client().get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_creates_a_connector(s3_endpoint, client_alice, alice) -> None:
    response = walk_wizard(
        client_alice, NEW, source_settings=s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    connector = Connector.objects.get(owner=alice)
    assert response.status_code == 302
    assert response["Location"] == f"/connectors/{connector.pk}/"
    assert connector.name == "Profiles from S3"
    assert connector.entity_type.name == "Profile"
    assert connector.field_mapping["profile_id"] == "profile_id"
    assert connector.s3.bucket == "acme-data"
    assert connector.s3.access_key_secret() == SECRET
    assert SECRET not in connector.s3.access_key_secret_encrypted
    assert connector.periodic_task.enabled
    assert connector.periodic_task.interval.every == 30


def test_it_never_keeps_the_secret_in_plain_text_in_the_session(s3_endpoint, client_alice) -> None:
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    post_step(client_alice, NEW, "source", source_values())
    response = post_step(
        client_alice,
        NEW,
        "source_settings",
        s3_access_key_values("acme-data", endpoint=s3_endpoint),
    )
    assert response.status_code == 200
    for session in Session.objects.all():
        assert SECRET not in str(session.get_decoded())
        assert SECRET not in session.session_data
    assert SECRET.encode() not in response.content


def test_review_shows_everything_with_the_secret_masked(s3_endpoint, client_alice) -> None:
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    post_step(client_alice, NEW, "source", source_values())
    post_step(
        client_alice,
        NEW,
        "source_settings",
        s3_access_key_values("acme-data", endpoint=s3_endpoint),
    )
    response = through_to_review(client_alice, NEW)
    page = response.content.decode()
    assert "Review" in page
    assert "acme-data" in page and "AKIAIOSFODNN7EXAMPLE" in page
    assert "••••••••" in page and SECRET not in page
    assert "moved to done/" in page


def test_back_keeps_what_was_typed(client_alice) -> None:
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values(file_pattern="prof_"))
    response = post_step(
        client_alice,
        NEW,
        "source",
        source_values(name="Typed name"),
        wizard_goto_step="entity_settings",
    )
    assert 'value="prof_"' in response.content.decode()
    response = post_step(
        client_alice, NEW, "entity_settings", entity_settings_values(file_pattern="prof_")
    )
    assert 'value="Typed name"' in response.content.decode()


def test_back_from_step_4_keeps_the_typed_secret_only_as_a_token(
    s3_endpoint, client_alice, alice
) -> None:
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    post_step(client_alice, NEW, "source", source_values())
    back = post_step(
        client_alice,
        NEW,
        "source_settings",
        s3_access_key_values("acme-data", endpoint=s3_endpoint),
        wizard_goto_step="source",
    )
    assert back.context["wizard"]["steps"].current == "source"
    assert SECRET not in str([s.get_decoded() for s in Session.objects.all()])
    step_4 = post_step(client_alice, NEW, "source", source_values())
    secret = step_4.context["form"]["access_key_secret"]
    assert 'value="acme-data"' in step_4.content.decode() and SECRET not in str(secret)
    assert "stored — leave blank to keep it" in str(secret)
    post_step(
        client_alice,
        NEW,
        "source_settings",
        s3_access_key_values("acme-data", endpoint=s3_endpoint, access_key_secret=""),
    )
    through_to_review(client_alice, NEW)
    assert post_step(client_alice, NEW, "review", {}).status_code == 302
    assert Connector.objects.get(owner=alice).s3.access_key_secret() == SECRET


def test_it_cannot_jump_to_source_settings_first(s3_endpoint, client_alice) -> None:
    client_alice.get(NEW)
    response = post_step(
        client_alice,
        NEW,
        "source_settings",
        s3_access_key_values("acme-data", endpoint=s3_endpoint),
    )
    assert response.context["wizard"]["steps"].current == "entity"
    assert not Connector.objects.exists()


def test_a_later_step_posted_to_an_expired_wizard_shows_the_first_step_afresh(
    s3_endpoint, alice
) -> None:
    client = Client()
    client.force_login(alice)  # a session without the wizard in it, as after it expired
    response = post_step(
        client, NEW, "source_settings", s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    assert response.context["wizard"]["steps"].current == "entity"
    assert not response.context["form"].is_bound


def test_the_first_step_posted_to_an_expired_wizard_is_taken(alice) -> None:
    client = Client()
    client.force_login(alice)
    response = post_step(client, NEW, "entity", entity_values())
    assert response.context["wizard"]["steps"].current == "entity_settings"


def test_it_rejects_a_duplicate_name(s3_endpoint, client_alice, alice) -> None:
    walk_wizard(
        client_alice, NEW, source_settings=s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    response = post_step(client_alice, NEW, "source", source_values())
    assert "You already have a connector named" in response.content.decode()


def test_edit_is_prefilled_and_a_blank_secret_keeps_the_stored_one(
    s3_endpoint, client_alice, alice
) -> None:
    walk_wizard(
        client_alice, NEW, source_settings=s3_access_key_values("acme-data", endpoint=s3_endpoint)
    )
    connector = Connector.objects.get(owner=alice)
    url = f"/connectors/{connector.pk}/edit/"
    response = client_alice.get(url)
    assert response.context["form"].initial["entity"] == connector.entity_type_id
    post_step(client_alice, url, "entity", entity_values())
    post_step(
        client_alice, url, "entity_settings", entity_settings_values(poll_interval_minutes="15")
    )
    post_step(client_alice, url, "source", source_values(name="Renamed"))
    response = post_step(
        client_alice,
        url,
        "source_settings",
        s3_access_key_values(
            "acme-data", endpoint=s3_endpoint, access_key_secret="", success_path=""
        ),
    )
    assert response.context["form"].initial["map__profile_id"] == "profile_id"  # as saved
    through_to_review(client_alice, url, mapping=field_mapping_values(email="e-mail"))
    response = post_step(client_alice, url, "review", {})
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.name == "Renamed"
    assert connector.poll_interval_minutes == 15
    assert connector.s3.success_path == ""
    assert connector.s3.access_key_secret() == SECRET
    assert connector.field_mapping["email"] == "e-mail"
    assert Connector.objects.count() == 1


def test_iam_role_connector_discards_access_keys(s3_endpoint, client_alice, alice) -> None:
    values = s3_access_key_values(
        "acme-data",
        endpoint=s3_endpoint,
        auth_type="iam_role",
        iam_role_arn="arn:aws:iam::123456789012:role/loadbay",
    )
    walk_wizard(client_alice, NEW, source_settings=values)
    s3 = Connector.objects.get(owner=alice).s3
    assert s3.auth_type == "iam_role"
    assert s3.access_key_id == "" and s3.access_key_secret_encrypted == ""
    assert s3.iam_role_arn == "arn:aws:iam::123456789012:role/loadbay"
    assert s3.external_id.startswith("loadbay-")


@pytest.mark.parametrize(("key_id", "secret"), [("minioadmin", "minioadmin"), ("S3RVER", "S3RVER")])
def test_an_s3_compatible_store_takes_its_own_keys_through_test_connection_save_and_a_run(
    client_alice, alice, bucket, s3_endpoint, s3_client, key_id: str, secret: str
) -> None:
    """moto accepts any credentials, as MinIO accepts minioadmin and S3rver S3RVER."""
    values = s3_access_key_values(
        bucket, endpoint=s3_endpoint, access_key_id=key_id, access_key_secret=secret
    )
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    client_alice.get(NEW)
    post_step(client_alice, NEW, "entity", entity_values())
    post_step(client_alice, NEW, "entity_settings", entity_settings_values())
    post_step(client_alice, NEW, "source", source_values())
    tested = press_test_connection(client_alice, NEW, "source_settings", values)
    assert not tested.context["form"].errors, tested.context["form"].errors
    assert all(check.ok for check in tested.context["connection_checks"])
    assert "✓ List the Source Files Directory" in tested.content.decode()
    mapping = post_step(client_alice, NEW, "source_settings", {**values, "access_key_secret": ""})
    assert mapping.context["sample_page"].origin.name == "incoming/good.csv"  # read with its keys
    review = through_to_review(client_alice, NEW)
    assert review.context["wizard"]["steps"].current == "review"
    assert press_test_connection(client_alice, NEW, "review", {}).status_code == 200
    assert post_step(client_alice, NEW, "review", {}).status_code == 302

    connector = Connector.objects.get(owner=alice)
    assert connector.s3.access_key_id == key_id
    assert connector.s3.access_key_secret() == secret
    run = inline.run_inline(runs.start_run(connector, trigger="manual"))
    assert run.status == "succeeded", run.error or run.notes
    assert run.files_succeeded == 1


def test_the_schedule_says_it_is_on_by_default_every_30_minutes(client_alice) -> None:
    client_alice.get(NEW)
    step_2 = post_step(client_alice, NEW, "entity", entity_values())
    field = step_2.context["form"].fields["schedule_active"]
    assert field.initial is True
    assert field.help_text.startswith("On by default: every 30 minutes")
    assert "On by default: every 30 minutes" in step_2.content.decode()


def test_only_steps_with_required_fields_explain_the_mark(client_alice) -> None:
    step_1 = client_alice.get(NEW).content.decode()
    assert "Fields marked" in step_1
    review = walk_wizard_to_review(client_alice)
    assert review.context["wizard"]["steps"].current == "review"
    assert "Fields marked" not in review.content.decode()


def walk_wizard_to_review(client: Client) -> Any:
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    post_step(client, NEW, "entity_settings", entity_settings_values())
    post_step(client, NEW, "source", source_values())
    post_step(client, NEW, "source_settings", s3_access_key_values("acme-data"))
    return through_to_review(client, NEW)
