"""The whole wizard in chromium: steps, Back, fields that appear by choice (and are marked
required with it), errors, Test connection and its verdict, Share Settings, save, edit,
disable and delete."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from connectors.models import AccessLevel, Connector
from tests.support.browser import sign_in
from tests.support.factories import SECRET

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

AUTH = "input[name=source_settings-auth_type]"


def through_to_source_settings(page: Page, name: str = "Web profiles") -> None:
    page.goto("/connectors/new/")
    expect(page.locator(".step.current")).to_contain_text("Entity Selection")
    page.select_option("select[name=entity-entity]", label="Profile")
    page.click("#next")
    expect(page.locator(".step.current")).to_contain_text("Entity Specific Settings")
    page.check("input[name=entity_settings-integration_type][value=upsert]")
    page.select_option("select[name=entity_settings-file_format]", "json")
    expect(page.locator("select[name=entity_settings-csv_delimiter]")).to_be_hidden()
    page.select_option("select[name=entity_settings-file_format]", "csv")
    expect(page.locator("select[name=entity_settings-csv_delimiter]")).to_be_visible()
    page.fill("input[name=entity_settings-file_pattern]", "profiles_")
    page.click("#next")
    page.fill("input[name=source-name]", name)
    page.click("button[name=wizard_goto_step]")  # Back
    expect(page.locator("input[name=entity_settings-file_pattern]")).to_have_value("profiles_")
    page.click("#next")
    expect(page.locator("input[name=source-name]")).to_have_value(name)
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Source Specific Settings")


def test_it_creates_an_access_key_connector(
    browser_page: Page,
    alice: Any,
    bucket: str,
    s3_endpoint: str,
) -> None:
    page = browser_page
    sign_in(page, "alice")
    through_to_source_settings(page)

    key_id = page.locator("input[name=source_settings-access_key_id]")
    arn = page.locator("input[name=source_settings-iam_role_arn]")
    expect(key_id).to_be_hidden()
    expect(arn).to_be_hidden()
    page.check(f"{AUTH}[value=iam_role]")
    expect(arn).to_be_visible()
    expect(page.locator("#trust-policy")).to_contain_text("sts:ExternalId")
    expect(key_id).to_be_hidden()
    page.check(f"{AUTH}[value=access_key]")
    expect(key_id).to_be_visible()
    expect(page.locator("input[name=source_settings-access_key_secret]")).to_be_visible()
    expect(arn).to_be_hidden()

    page.fill("input[name=source_settings-bucket]", "Bad_Bucket")
    page.fill("input[name=source_settings-access_key_id]", "AKIAIOSFODNN7EXAMPLE")
    page.fill("input[name=source_settings-access_key_secret]", SECRET)
    page.fill("input[name=source_settings-source_path]", "/incoming")
    page.fill("input[name=source_settings-success_path]", "incoming")
    page.click("#next")
    expect(page.locator("#field-source_settings-bucket .field-errors")).to_contain_text(
        "lower-case letters"
    )
    expect(page.locator("#field-source_settings-success_path .field-errors")).to_contain_text(
        "must differ from the Source"
    )
    assert SECRET not in page.content()

    page.fill("input[name=source_settings-bucket]", bucket)
    page.fill("input[name=source_settings-access_key_secret]", SECRET)
    page.fill("input[name=source_settings-success_path]", "done")
    page.fill("input[name=source_settings-failed_path]", "failed")
    page.click("details summary")
    page.fill("input[name=source_settings-endpoint_url]", s3_endpoint)
    page.click("#test-connection")
    expect(page.locator("#connection-checks")).to_contain_text("List the Source Files Directory")
    expect(page.locator("#connection-checks .check.fail")).to_have_count(0)
    page.screenshot(path="/tmp/loadbay-wizard-source-settings.png", full_page=True)

    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    expect(page.locator("#sample-problem")).to_contain_text("No file in the Source Files")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Review")
    expect(page.locator("main")).to_contain_text("••••••••")
    assert SECRET not in page.content()
    page.click("#save")

    expect(page.locator("#source-settings")).to_contain_text("incoming/")
    assert SECRET not in page.content()
    connector = Connector.objects.get(name="Web profiles")
    assert connector.s3.access_key_secret() == SECRET
    assert connector.file_pattern == "profiles_"


def test_it_creates_an_iam_role_connector_and_edits_it(
    browser_page: Page,
    alice: Any,
    bucket: str,
    s3_endpoint: str,
) -> None:
    page = browser_page
    sign_in(page, "alice")
    through_to_source_settings(page, name="Role profiles")
    page.fill("input[name=source_settings-bucket]", bucket)
    page.check(f"{AUTH}[value=iam_role]")
    page.fill("input[name=source_settings-iam_role_arn]", "arn:aws:iam::123:role/x")
    page.click("#next")
    expect(page.locator("#field-source_settings-iam_role_arn .field-errors")).to_contain_text(
        "12-digit account ID"
    )
    external_id = page.locator("#external-id").inner_text()
    page.fill("input[name=source_settings-iam_role_arn]", "arn:aws:iam::123456789012:role/loadbay")
    page.click("details summary")
    page.fill("input[name=source_settings-endpoint_url]", s3_endpoint)
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    page.click("#next")
    page.click("#save")
    expect(page.locator("#source-settings")).to_contain_text(external_id)
    connector = Connector.objects.get(name="Role profiles")
    assert connector.s3.auth_type == "iam_role" and connector.s3.external_id == external_id

    page.click("#edit")
    expect(page.locator("select[name=entity-entity] option:checked")).to_have_text("Profile")
    page.click("#next")
    page.click("#next")
    page.fill("input[name=source-name]", "Role profiles (renamed)")
    page.click("#next")
    expect(page.locator("input[name=source_settings-iam_role_arn]")).to_have_value(
        "arn:aws:iam::123456789012:role/loadbay"
    )
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    page.click("#next")
    page.click("#save")
    expect(page.locator("h1")).to_contain_text("Role profiles (renamed)")
    connector.refresh_from_db()
    assert connector.name == "Role profiles (renamed)" and connector.s3.external_id == external_id

    page.click("#disable")
    expect(page.locator("h1 .badge")).to_have_text("Disabled")
    page.click("#enable")
    expect(page.locator("h1 .badge")).to_have_text("Enabled")
    page.click("#delete")
    page.click("#confirm-delete")
    expect(page.locator(".messages")).to_contain_text("deleted")
    assert not Connector.objects.filter(pk=connector.pk).exists()


def test_editing_with_a_blank_secret_keeps_it(
    browser_page: Page,
    alice: Any,
    bucket: str,
    s3_endpoint: str,
) -> None:
    from tests.support.factories import make_connector

    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    page = browser_page
    sign_in(page, "alice")
    page.goto(f"/connectors/{connector.pk}/edit/")
    for _ in range(3):
        page.click("#next")
    secret = page.locator("input[name=source_settings-access_key_secret]")
    expect(secret).to_have_value("")
    expect(secret).to_have_attribute("placeholder", "•••••••• stored — leave blank to keep it")
    page.fill("input[name=source_settings-failed_path]", "")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    page.click("#next")
    page.click("#next")  # Share Settings, as they are
    page.click("#save")
    connector.refresh_from_db()
    assert connector.s3.failed_path == ""
    assert connector.s3.access_key_secret() == SECRET


def fill_access_key_settings(page: Page, bucket: str, endpoint: str) -> None:
    page.fill("input[name=source_settings-bucket]", bucket)
    page.check(f"{AUTH}[value=access_key]")
    page.fill("input[name=source_settings-access_key_id]", "AKIAIOSFODNN7EXAMPLE")
    page.fill("input[name=source_settings-access_key_secret]", SECRET)
    page.fill("input[name=source_settings-source_path]", "incoming")
    page.fill("input[name=source_settings-success_path]", "done")
    page.click("details summary")
    page.fill("input[name=source_settings-endpoint_url]", endpoint)


def test_the_chosen_authentication_types_fields_are_marked_required(
    browser_page: Page, alice: Any
) -> None:
    page = browser_page
    sign_in(page, "alice")
    through_to_source_settings(page)
    expect(page.locator(f"{AUTH}:checked")).to_have_count(0)  # nothing preselected
    page.click("#next")
    expect(page.locator("#field-source_settings-auth_type .field-errors")).to_have_text(
        "Choose an Authentication Type."
    )
    marks = {
        name: page.locator(f"#field-source_settings-{name} label .req")
        for name in ("access_key_id", "access_key_secret", "iam_role_arn")
    }
    inputs = {
        name: page.locator(f"input[name=source_settings-{name}]")
        for name in ("access_key_id", "access_key_secret", "iam_role_arn")
    }
    for mark in marks.values():
        expect(mark).to_be_hidden()

    page.check(f"{AUTH}[value=access_key]")
    for name in ("access_key_id", "access_key_secret"):
        expect(marks[name]).to_be_visible()
        expect(marks[name]).to_have_text("*")
        expect(inputs[name]).to_have_attribute("aria-required", "true")
    expect(marks["iam_role_arn"]).to_be_hidden()
    expect(inputs["iam_role_arn"]).not_to_have_attribute("aria-required", "true")

    page.check(f"{AUTH}[value=iam_role]")
    expect(marks["iam_role_arn"]).to_be_visible()
    expect(inputs["iam_role_arn"]).to_have_attribute("aria-required", "true")
    for name in ("access_key_id", "access_key_secret"):
        expect(marks[name]).to_be_hidden()
        expect(inputs[name]).not_to_have_attribute("aria-required", "true")


def test_test_connection_shows_its_verdict_in_view_and_focused(
    browser_page: Page, alice: Any, bucket: str, s3_endpoint: str
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "alice")
    through_to_source_settings(page)
    fill_access_key_settings(page, "no-such-bucket-here", s3_endpoint)
    button = page.locator("#test-connection")
    # The button is below the fold: the page that answers it opens at its top.
    box = button.bounding_box()
    assert box is not None and box["y"] > 900
    button.click()

    verdict = page.locator("#connection-verdict")
    expect(verdict).to_contain_text(
        "Test connection failed: The bucket no-such-bucket-here does not exist"
    )
    expect(verdict).to_be_focused()
    expect(verdict).to_be_in_viewport(ratio=1)
    checks = page.locator("#connection-checks")
    expect(checks).not_to_contain_text("Missing permission")
    expect(checks).not_to_contain_text("s3:ListBucket")

    page.fill("input[name=source_settings-bucket]", bucket)  # the secret is held from before
    page.locator("#test-connection").click()
    expect(verdict).to_contain_text("Test connection passed")
    expect(verdict).to_be_focused()
    expect(verdict).to_be_in_viewport(ratio=1)
    expect(page.locator("#connection-checks .check.fail")).to_have_count(0)
    page.screenshot(path="/tmp/loadbay-wizard-test-connection.png")


def test_share_settings_are_saved_shown_on_the_connector_page_and_prefilled_on_edit(
    browser_page: Page, alice: Any, team: Group, bucket: str, s3_endpoint: str
) -> None:
    auditors = Group.objects.create(name="auditors")
    page = browser_page
    sign_in(page, "alice")
    through_to_source_settings(page, name="Shared profiles")
    fill_access_key_settings(page, bucket, s3_endpoint)
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    expect(page.locator("#share-owner")).to_contain_text("You own this connector")
    team_access = page.locator(f"select[name=share-group_{team.pk}]")
    auditors_access = page.locator(f"select[name=share-group_{auditors.pk}]")
    expect(team_access).to_have_value("")
    team_access.select_option(label=AccessLevel.EDIT.label)
    auditors_access.select_option(label=AccessLevel.VIEW.label)
    page.click("#next")
    review = page.locator("#review-shares")
    expect(review).to_contain_text(f"Group data-team{AccessLevel.EDIT.label}")
    expect(review).to_contain_text(f"Group auditors{AccessLevel.VIEW.label}")
    page.click("#save")

    shares = page.locator("#shares")
    expect(shares).to_contain_text(f"alice (owner){AccessLevel.FULL.label}")
    expect(shares).to_contain_text(f"Group data-team{AccessLevel.EDIT.label}")
    expect(shares).to_contain_text(f"Group auditors{AccessLevel.VIEW.label}")
    connector = Connector.objects.get(name="Shared profiles")
    assert {(s.group.name, s.access) for s in connector.shares.all()} == {
        ("data-team", AccessLevel.EDIT),
        ("auditors", AccessLevel.VIEW),
    }

    page.click("#edit")
    for _ in range(5):
        page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    expect(team_access).to_have_value(str(AccessLevel.EDIT.value))
    expect(auditors_access).to_have_value(str(AccessLevel.VIEW.value))
    auditors_access.select_option(value="")
    page.click("#next")
    page.click("#save")
    expect(shares).not_to_contain_text("auditors")
    assert {(s.group.name, s.access) for s in connector.shares.all()} == {
        ("data-team", AccessLevel.EDIT)
    }


def test_enter_in_a_field_goes_to_the_next_step_not_back(browser_page: Page, alice: Any) -> None:
    """Enter submits a form's first button, which was Back: it must be Next."""
    page = browser_page
    sign_in(page, "alice")
    page.goto("/connectors/new/")
    page.select_option("select[name=entity-entity]", label="Profile")
    page.click("#next")
    page.check("input[name=entity_settings-integration_type][value=upsert]")
    page.fill("input[name=entity_settings-file_pattern]", "profiles_")
    page.press("input[name=entity_settings-file_pattern]", "Enter")
    expect(page.locator("#step-title")).to_have_text("Source Selection")
    page.fill("input[name=source-name]", "Entered profiles")
    page.press("input[name=source-name]", "Enter")
    expect(page.locator("#step-title")).to_have_text("Source Specific Settings")
    page.click("button[name=wizard_goto_step]")  # Back still goes back
    expect(page.locator("#step-title")).to_have_text("Source Selection")
    expect(page.locator("input[name=source-name]")).to_have_value("Entered profiles")
