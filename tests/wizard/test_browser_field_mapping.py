"""Field Mapping in chromium, against moto over HTTP: the demo's files as a newcomer meets them
(README's walkthrough): the sample shown and mapped, another file picked, the broken row in
Check sample's results, Review's summary, labels in the entity's order, edit prefilled; and an
uploaded sample when the directory is empty."""

import gzip
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from connectors.models import Connector
from entities.models import Record
from ingest.management.commands.demo_seed import BAD_PROFILES, PROFILES
from ingest.models import SourceFile
from tests.support.browser import sign_in
from tests.support.factories import SECRET, keys, put

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

MAP = "select[name=field_mapping-map__{}]"


def through_to_field_mapping(page: Page, bucket: str, s3_endpoint: str, name: str) -> None:
    page.goto("/connectors/new/")
    page.select_option("select[name=entity-entity]", label="Profile")
    page.click("#next")
    page.check("input[name=entity_settings-integration_type][value=upsert]")
    page.click("#next")
    page.fill("input[name=source-name]", name)
    page.click("#next")
    page.fill("input[name=source_settings-bucket]", bucket)
    page.check("input[name=source_settings-auth_type][value=access_key]")
    page.fill("input[name=source_settings-access_key_id]", "AKIAIOSFODNN7EXAMPLE")
    page.fill("input[name=source_settings-access_key_secret]", SECRET)
    page.fill("input[name=source_settings-source_path]", "incoming/")
    page.fill("input[name=source_settings-success_path]", "done/")
    page.fill("input[name=source_settings-failed_path]", "failed/")
    page.click("details summary")
    page.fill("input[name=source_settings-endpoint_url]", s3_endpoint)
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    expect(page.locator(".step.current")).to_contain_text("5 Field Mapping")


def test_the_demo_sample_is_shown_mapped_and_checked_before_saving(
    browser_page: Page, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any
) -> None:
    # The demo's profile files, put in the order demo_seed puts them: the broken one last.
    put(s3_client, bucket, "incoming/profiles_2026-11-01.csv", PROFILES)
    put(s3_client, bucket, "incoming/profiles_2026-11-02.csv.gz", gzip.compress(PROFILES.encode()))
    put(s3_client, bucket, "incoming/profiles_broken.csv", BAD_PROFILES)
    page = browser_page
    sign_in(page, "alice")
    through_to_field_mapping(page, bucket, s3_endpoint, "Demo profiles")

    expect(page.locator("#sample-origin")).to_contain_text("incoming/profiles_broken.csv")
    table = page.locator("#sample-table")
    expect(table.locator("thead")).to_contain_text("loyalty_points")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Margaret")
    for field in ("profile_id", "first_name", "email", "birth_date", "loyalty_points"):
        expect(page.locator(MAP.format(field))).to_have_value(field)
    expect(page.locator("#unmapped-columns")).to_have_text("Every column of the sample is mapped.")

    page.select_option("#sample-key", "incoming/profiles_2026-11-02.csv.gz")
    page.click("#read-sample")
    expect(page.locator("#sample-table")).to_contain_text("Grace")  # gunzipped
    page.select_option("#sample-key", "incoming/profiles_broken.csv")
    page.click("#read-sample")
    expect(page.locator("#sample-table")).to_contain_text("Margaret")

    page.select_option(MAP.format("phone"), "")
    page.click("#check-sample")
    expect(page.locator("#dry-run")).to_be_focused()
    expect(page.locator("#dry-run-verdict")).to_contain_text("A run would fail this file")
    problems = page.locator("#dry-run-problems")
    expect(problems).to_contain_text("email")
    expect(problems).to_contain_text("loyalty_points")
    expect(problems.locator("tbody tr").first).to_contain_text("3")
    expect(page.locator(MAP.format("phone"))).to_have_value("")  # the choice is kept
    expect(page.locator("#unmapped-columns")).to_contain_text("phone")
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    page.screenshot(path="/tmp/loadbay-wizard-field-mapping.png", full_page=True)

    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Review")
    review = page.locator("#review-field-mapping")
    expect(review).to_contain_text("profiles_broken.csv")
    expect(review).to_contain_text("1 of 2 rows is invalid; the connector allows none")
    expect(review.locator("tbody tr").first).to_contain_text("Profile id")
    page.click("#save")

    connector = Connector.objects.get(name="Demo profiles")
    assert "phone" not in connector.field_mapping
    rows = page.locator("#mapping tbody tr")
    expect(rows.first).to_contain_text("Profile id")
    expect(rows.nth(4)).to_contain_text("(not mapped)")  # Phone, fifth in the entity's order
    assert keys(s3_client, bucket) == [
        "incoming/profiles_2026-11-01.csv",
        "incoming/profiles_2026-11-02.csv.gz",
        "incoming/profiles_broken.csv",
    ]

    page.click("#edit")
    for _ in range(4):
        page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    expect(page.locator(MAP.format("phone"))).to_have_value("")
    expect(page.locator(MAP.format("email"))).to_have_value("email")


def test_an_empty_directory_takes_an_uploaded_sample(
    browser_page: Page, alice: Any, bucket: str, s3_endpoint: str
) -> None:
    page = browser_page
    sign_in(page, "alice")
    through_to_field_mapping(page, bucket, s3_endpoint, "Uploaded profiles")
    expect(page.locator("#sample-problem")).to_contain_text("No file in the Source Files")
    expect(page.locator("input[name=field_mapping-map__profile_id]")).to_have_value("profile_id")
    sample = "Profile ID,E-Mail,Shoe size\nP-9,nine@example.com,42\n"
    page.set_input_files(
        "#sample-file", {"name": "mine.csv", "mimeType": "text/csv", "buffer": sample.encode()}
    )
    page.click("#upload-sample")
    expect(page.locator("#sample-origin")).to_contain_text("Uploaded file")
    expect(page.locator("#sample-table")).to_contain_text("nine@example.com")
    expect(page.locator(MAP.format("profile_id"))).to_have_value("Profile ID")
    expect(page.locator(MAP.format("email"))).to_have_value("E-Mail")
    expect(page.locator("#unmapped-columns")).to_contain_text("Shoe size")
    page.click("#check-sample")
    expect(page.locator("#dry-run-verdict")).to_contain_text("Every one of the sample's 1 row")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Share Settings")
    page.click("#next")
    page.click("#save")
    connector = Connector.objects.get(name="Uploaded profiles")
    assert connector.field_mapping["profile_id"] == "Profile ID"
