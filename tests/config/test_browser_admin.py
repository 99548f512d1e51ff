"""The sign-in pages, the lockout page and the admin in chromium, under the
Content-Security-Policy (browser_page fails a test on any violation)."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from connectors.models import Connector
from tests.support.factories import make_connector
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_root_signs_in_to_the_admin_and_edits_under_the_policy(
    browser_page: Page, alice: Any
) -> None:
    page = browser_page
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    response = page.goto("/admin/login/")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"/admin/connectors/connector/{connector.pk}/change/")
    page.fill("input[name=name]", "Renamed in admin")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert Connector.objects.get(pk=connector.pk).name == "Renamed in admin"
    page.goto("/admin/entities/entitytype/add/")
    page.click(".add-row a")  # an inline row added by the admin's own script
    expect(page.locator("#fields-group tr.form-row.dynamic-fields")).not_to_have_count(0)
    page.goto("/admin/axes/accessattempt/")
    expect(page.locator("#content h1")).to_contain_text("access attempt")


def test_a_locked_out_sign_in_gets_our_page(browser_page: Page, alice: Any, settings) -> None:
    page = browser_page

    def sign_in_as_alice(password: str) -> None:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")

    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        sign_in_as_alice("wrong")
        expect(page.locator(".errors")).to_contain_text("correct username and password")
    sign_in_as_alice("wrong")
    expect(page.locator("h1")).to_have_text("Sign-in refused for now")
    sign_in_as_alice(PASSWORD)
    expect(page.locator("h1")).to_have_text("Sign-in refused for now")
    expect(page.locator("[role=alert]")).to_contain_text("Try again in 15 minutes")
