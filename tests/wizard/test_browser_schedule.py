"""The schedule on Entity Specific Settings in chromium: the interval or the cron fields by
the chosen kind, a bad cron's message, and the next runs shown when the step comes back."""

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

FIELD = "[name=entity_settings-{}]"


def test_cron_fields_show_for_cron_are_checked_and_preview_the_next_runs(
    browser_page: Page, alice: Any
) -> None:
    page = browser_page
    sign_in(page, "alice")
    page.goto("/connectors/new/")
    page.select_option("select[name=entity-entity]", label="Profile")
    page.click("#next")
    interval = page.locator(FIELD.format("poll_interval_minutes"))
    cron = page.locator(FIELD.format("cron_expression"))
    zone = page.locator(FIELD.format("schedule_timezone"))
    expect(interval).to_be_visible()
    expect(cron).to_be_hidden()
    page.select_option(FIELD.format("schedule_kind"), "cron")
    expect(cron).to_be_visible()
    expect(zone).to_have_value("UTC")
    expect(interval).to_be_hidden()

    cron.fill("0 6 * *")
    zone.fill("Europe/Lisbon")
    page.click("#next")
    expect(page.locator("#field-entity_settings-cron_expression .field-errors")).to_contain_text(
        "has 5 fields"
    )
    expect(page.locator("#cron-next-runs")).to_have_count(0)

    page.locator(FIELD.format("cron_expression")).fill("0 6 * * 1-5")
    page.click("#next")
    expect(page.locator("#step-title")).to_have_text("Source Selection")
    page.click("button[name=wizard_goto_step]")  # Back
    expect(page.locator(FIELD.format("cron_expression"))).to_be_visible()
    expect(page.locator("#cron-next-runs")).to_contain_text("06:00 WE")
