"""In chromium: create a connector in the wizard, press Run now, watch the run finish, and
find the files where the spec says they go."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from connectors.models import Connector
from ingest.models import Run, SourceFile
from tests.support.browser import sign_in
from tests.support.factories import (
    BAD_CSV,
    GOOD_CSV,
    SECRET,
    keys,
    make_connector,
    put,
    run_now,
)

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
    expect(page.locator("#step-title")).to_have_text("Share Settings")
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


LONG_NAME = "Nightly_profiles_from_the_customer_relationship_management_system_export_" + "x" * 25


def test_long_file_keys_and_connector_names_stay_inside_their_cards(
    browser_page: Page, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, name=LONG_NAME)
    stem = "profiles_export_" + "0123456789" * 20
    put(s3_client, bucket, f"incoming/{stem}_good.csv", GOOD_CSV)
    put(s3_client, bucket, f"incoming/{stem}_bad.csv", BAD_CSV)
    run = run_now(connector)
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "alice")

    page.goto(run.get_absolute_url())
    expect(page.locator("#run-files")).to_contain_text(f"moved to done/{stem}")
    table = page.evaluate(
        """() => {
          const table = document.querySelector('#run-files');
          const card = table.closest('.card');
          const wrap = table.parentElement;
          return {table: table.getBoundingClientRect().right,
                  card: card.getBoundingClientRect().right,
                  scroll: wrap.scrollWidth, width: wrap.clientWidth};
        }"""
    )
    assert table["table"] <= table["card"], table
    assert table["scroll"] <= table["width"], table  # nothing to scroll sideways either

    page.goto(connector.get_absolute_url())
    heading = page.evaluate(
        """() => {
          const row = document.querySelector('.heading-row');
          const actions = row.querySelector('.actions').getBoundingClientRect();
          const card = document.querySelector('section.card').getBoundingClientRect();
          return {gap: card.top - actions.bottom,
                  title: row.querySelector('h1').getBoundingClientRect().right,
                  main: document.querySelector('main').getBoundingClientRect().right};
        }"""
    )
    assert heading["gap"] >= 12, heading  # the buttons are not pressed against the card
    assert heading["title"] <= heading["main"], heading
    page.screenshot(path="/tmp/loadbay-long-names.png", full_page=True)


def test_a_failed_file_retried_from_the_run_page_after_its_fix_succeeds(
    browser_page: Page, worker: Any, alice: Any, bucket: str, s3_endpoint: str, s3_client: Any
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    failed_run = run_now(connector, user=alice)
    failed = SourceFile.objects.get(run=failed_run)
    assert failed.destination_key == "failed/bad.csv"
    connector.error_tolerance = "1"  # the fix: one bad row is reported, the good rows written
    connector.save()
    page = browser_page
    sign_in(page, "alice")
    page.goto(failed_run.get_absolute_url())
    expect(page.locator("#run-status")).to_have_text("Completed with failed files")
    expect(page.locator("#retry-all")).to_have_text("Retry all failed files (1)")
    page.screenshot(path="/tmp/loadbay-retry-button.png", full_page=True)

    page.click(f"#retry-{failed.pk}")

    expect(page.locator("h1")).to_contain_text("Run #")
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator("#run-summary")).to_contain_text("Retry by alice")
    page.reload()  # the files table is rendered by the server
    expect(page.locator("#run-files")).to_contain_text("moved to done/bad.csv")
    retry = Run.objects.get(trigger="retry")
    assert (retry.files_succeeded, retry.records_created, retry.triggered_by) == (1, 1, alice)
    assert keys(s3_client, bucket) == ["done/bad.csv", "failed/bad.csv.errors.txt"]
    page.goto(failed_run.get_absolute_url())
    expect(page.locator("a.retry-run")).to_have_text(f"retried in run #{retry.pk}")
    expect(page.locator(f"#retry-{failed.pk}")).to_have_count(0)
    page.screenshot(path="/tmp/loadbay-retry.png", full_page=True)
