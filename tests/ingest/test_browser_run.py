"""In chromium: create a connector in the wizard, press Run now, watch the run finish, and
find the files where the spec says they go."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from connectors.models import Connector
from ingest.models import Run
from tests.support.browser import sign_in
from tests.support.factories import BAD_CSV, GOOD_CSV, SECRET, keys, put

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def create_connector_in_wizard(page: Page, bucket: str, endpoint: str) -> None:
    page.goto("/connectors/new/")
    page.select_option("select[name=entity-entity]", label="Profile")
    page.click("#next")
    page.check("input[name=entity_settings-integration_type][value=upsert]")
    page.click("#next")
    page.fill("input[name=source-name]", "Nightly profiles")
    page.click("#next")
    page.fill("input[name=source_settings-bucket]", bucket)
    page.check("input[name=source_settings-auth_type][value=access_key]")
    page.fill("input[name=source_settings-access_key_id]", "AKIAIOSFODNN7EXAMPLE")
    page.fill("input[name=source_settings-access_key_secret]", SECRET)
    page.fill("input[name=source_settings-source_path]", "incoming")
    page.fill("input[name=source_settings-success_path]", "done")
    page.fill("input[name=source_settings-failed_path]", "failed")
    page.click("details summary")
    page.fill("input[name=source_settings-endpoint_url]", endpoint)
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Field Mapping")
    expect(page.locator("#sample-table")).to_contain_text("profile_id")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Review")
    page.click("#save")
    expect(page.locator("h1")).to_contain_text("Nightly profiles")


def test_run_now_moves_each_file_where_the_spec_says(
    browser_page: Page,
    worker: Any,
    alice: Any,
    bucket: str,
    s3_endpoint: str,
    s3_client: Any,
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    page = browser_page
    sign_in(page, "alice")
    create_connector_in_wizard(page, bucket, s3_endpoint)

    page.click("#run-now")

    expect(page.locator("#run-status")).to_have_text("Completed with failed files", timeout=60_000)
    files = page.locator("#run-files")
    expect(files).to_contain_text("moved to done/good.csv")
    expect(files).to_contain_text("moved to failed/bad.csv")
    expect(files).to_contain_text("not-an-email")
    assert SECRET not in page.content()
    assert keys(s3_client, bucket) == [
        "done/good.csv",
        "failed/bad.csv",
        "failed/bad.csv.errors.txt",
    ]
    run = Run.objects.get(connector=Connector.objects.get(name="Nightly profiles"))
    assert (run.files_succeeded, run.files_failed, run.records_created) == (1, 1, 2)
    page.screenshot(path="/tmp/loadbay-run-page.png", full_page=True)
