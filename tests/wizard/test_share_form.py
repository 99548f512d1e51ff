"""Share Settings: its form (an access select per group) and the wizard's step around it: saved
with the connector, shown on Review and the connector page, prefilled on edit, and a step only
for the owner and users with full access."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from connectors.models import AccessLevel, Connector
from tests.support.factories import grant, make_connector
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    s3_access_key_values,
    source_values,
    through_to_review,
    walk_wizard,
)
from wizard.share_form import ShareSettingsForm, share_initial

NEW = "/connectors/new/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def shares(connector: Connector) -> set[tuple[str, int]]:
    return {(share.group.name, share.access) for share in connector.shares.all()}


@pytest.fixture
def auditors(db: Any) -> Group:
    return Group.objects.create(name="auditors")


# --- the form -----------------------------------------------------------------------------------


def test_the_form_offers_every_group_by_name_with_no_access_or_a_level(alice, team, auditors):
    form = ShareSettingsForm(owner=alice, prefix="share")
    assert [field.label for field in form.group_fields()] == ["auditors", "data-team"]
    assert form[f"group_{team.pk}"].field.choices == [
        ("", "No access"),
        (1, "View (see the connector and its runs)"),
        (2, "Edit (change, run, enable and disable)"),
        (3, "Full (also delete)"),
    ]


def test_the_form_cleans_into_the_groups_given_access(alice, team, auditors) -> None:
    data = {f"share-group_{team.pk}": "2", f"share-group_{auditors.pk}": ""}
    form = ShareSettingsForm(data, owner=alice, prefix="share")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["shares"] == {team: AccessLevel.EDIT}


def test_an_access_level_that_is_not_offered_is_an_error(alice, team) -> None:
    form = ShareSettingsForm({f"share-group_{team.pk}": "9"}, owner=alice, prefix="share")
    assert not form.is_valid()
    assert "Select a valid choice" in form.errors[f"group_{team.pk}"][0]


def test_a_connectors_shares_are_the_forms_initial_values(alice, team, auditors) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.FULL)
    assert share_initial(connector) == {f"group_{team.pk}": AccessLevel.FULL}


# --- the step in the wizard -------------------------------------------------------------------


def to_share_step(client: Client, url: str, **source: Any) -> Any:
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    post_step(client, url, "source", source_values(**source))
    secret = "" if url != NEW else s3_access_key_values("acme-data")["access_key_secret"]
    post_step(
        client, url, "source_settings", s3_access_key_values("acme-data", access_key_secret=secret)
    )
    return post_step(client, url, "field_mapping", field_mapping_values())


def step_titles(response: Any) -> list[str]:
    return [step["title"] for step in response.context["step_list"]]


def test_share_settings_comes_after_field_mapping_just_before_review(alice) -> None:
    page = signed_in(alice).get(NEW)
    assert step_titles(page) == [
        "Entity Selection",
        "Entity Specific Settings",
        "Source Selection",
        "Source Specific Settings",
        "Field Mapping",
        "Share Settings",
        "Review",
    ]


def test_the_step_lists_the_groups_and_says_the_owner_has_full_access(alice, team) -> None:
    page = to_share_step(signed_in(alice), NEW)
    assert page.context["wizard"]["steps"].current == "share"
    html = page.content.decode()
    assert "You own this connector and always have full access" in html
    assert f'name="share-group_{team.pk}"' in html
    assert "Fields marked" not in html  # nothing on it is required


def test_without_groups_the_step_says_there_is_no_one_to_share_with(alice) -> None:
    html = to_share_step(signed_in(alice), NEW).content.decode()
    assert 'id="no-groups"' in html and "An administrator creates groups" in html


def test_shares_chosen_in_the_wizard_are_shown_on_review_and_saved(alice, team, auditors) -> None:
    client = signed_in(alice)
    to_share_step(client, NEW)
    review = through_to_review(
        client, NEW, shares={team: AccessLevel.EDIT, auditors: AccessLevel.VIEW}
    )
    html = review.content.decode()
    assert "Fields marked" not in html
    shown = html[html.index('id="review-shares"') :]
    assert "alice (owner)</dt><dd>Full (also delete)" in shown
    assert "Group auditors</dt><dd>View (see the connector and its runs)" in shown
    assert "Group data-team</dt><dd>Edit (change, run, enable and disable)" in shown
    assert post_step(client, NEW, "review", {}).status_code == 302
    connector = Connector.objects.get(owner=alice)
    assert shares(connector) == {("data-team", AccessLevel.EDIT), ("auditors", AccessLevel.VIEW)}


def test_the_connector_page_shows_whom_it_is_shared_with(alice, team) -> None:
    client = signed_in(alice)
    walk_wizard(client, NEW, source_settings=s3_access_key_values("acme-data"))
    connector = Connector.objects.get(owner=alice)
    html = client.get(connector.get_absolute_url()).content.decode()
    shown = html[html.index('id="shares"') :]
    assert "alice (owner)</dt><dd>Full (also delete)" in shown
    assert "<dt>Groups</dt><dd>not shared with any group" in shown
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    html = client.get(connector.get_absolute_url()).content.decode()
    assert "Group data-team</dt><dd>View (see the connector and its runs)" in html


def test_editing_prefills_the_shares_and_saves_the_changes(alice, team, auditors) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    url = f"/connectors/{connector.pk}/edit/"
    client = signed_in(alice)
    step = to_share_step(client, url, name="Profiles")
    assert step.context["form"].initial == {f"group_{team.pk}": AccessLevel.EDIT}
    assert '<option value="2" selected>' in step.content.decode()
    through_to_review(client, url, shares={auditors: AccessLevel.FULL})
    assert post_step(client, url, "review", {}).status_code == 302
    assert shares(connector) == {("auditors", AccessLevel.FULL)}


def test_a_full_access_user_gets_the_step(alice, bob, team, auditors) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.FULL)
    grant(user=bob)
    url = f"/connectors/{connector.pk}/edit/"
    client = signed_in(bob)
    step = to_share_step(client, url, name="Profiles")
    assert "alice owns this connector and always has full access" in step.content.decode()
    through_to_review(client, url, shares={team: AccessLevel.FULL, auditors: AccessLevel.VIEW})
    assert post_step(client, url, "review", {}).status_code == 302
    assert shares(connector) == {("data-team", AccessLevel.FULL), ("auditors", AccessLevel.VIEW)}


def test_an_edit_share_skips_the_step_and_keeps_the_shares(alice, bob, team) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    grant(user=bob)
    url = f"/connectors/{connector.pk}/edit/"
    client = signed_in(bob)
    review = to_share_step(client, url, name="Edited by bob")
    assert review.context["wizard"]["steps"].current == "review"
    assert "Share Settings" not in [s["title"] for s in review.context["step_list"]]
    html = review.content.decode()
    assert "Group data-team</dt><dd>Edit (change, run, enable and disable)" in html
    assert "Kept as they are: only the owner and users with full access change them." in html
    assert post_step(client, url, "review", {}).status_code == 302
    connector.refresh_from_db()
    assert connector.name == "Edited by bob"
    assert shares(connector) == {("data-team", AccessLevel.EDIT)}
