"""The Alerts section of the connector page: editors set recipients, a webhook URL (refused
by the SSRF rules with the reason, the input kept) and events; the webhook secret is shown
once, on the answer to the request that made it, and never again (not on the page, not in
logs); viewers see the settings and the latest 20 deliveries but may not change them."""

import logging

import pytest

from alerts import services
from alerts.models import AlertSettings, WebhookAttempt
from connectors.models import AccessLevel, ConnectorShare
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db
FORM = {
    "email_recipients": "Ops@Example.com, data@example.com",
    "webhook_url": "https://hooks.example.com/loadbay",
    "events": ["run_failed", "files_failed"],
    "not_moved_hours": "12",
}


def save_url(connector) -> str:
    return f"/connectors/{connector.pk}/alerts/"


def test_an_editor_saves_alerts_and_sees_the_new_secret_once(
    alice, connector, resolves, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    resolves["hooks.example.com"] = ["93.184.215.14"]
    client = signed_in(alice)
    answer = client.post(save_url(connector), FORM)
    assert answer.status_code == 200
    page = answer.content.decode()
    secret = page.split('<code id="webhook-secret">', 1)[1].split("</code>", 1)[0]
    assert secret.startswith("lbwh_") and len(secret) > 40
    assert "shown only this once" in page

    config = AlertSettings.objects.get(connector=connector)
    assert config.recipients == ["ops@example.com", "data@example.com"]
    assert (config.on_run_failed, config.on_files_failed, config.on_files_not_moved) == (
        True,
        True,
        False,
    )
    assert config.not_moved_hours == 12
    assert secret not in config.webhook_secret_encrypted and config.webhook_secret() == secret

    connector_page = client.get(connector.get_absolute_url()).content.decode()
    assert "https://hooks.example.com/loadbay" in connector_page
    assert "secret set; shown only when generated" in connector_page
    assert secret not in connector_page
    # Saving again keeps the secret and does not show it.
    again = client.post(save_url(connector), FORM)
    assert again.status_code == 302 and AlertSettings.objects.get().webhook_secret() == secret
    assert secret not in caplog.text


def test_regenerating_the_secret_shows_the_new_one_once_and_replaces_the_old(
    alice, connector, resolves
) -> None:
    resolves["hooks.example.com"] = ["93.184.215.14"]
    _, old = services.save_settings(
        connector,
        recipients=[],
        webhook_url="https://hooks.example.com/x",
        events={"run_failed"},
        not_moved_hours=24,
    )
    client = signed_in(alice)
    page = client.post(f"/connectors/{connector.pk}/alerts/secret/").content.decode()
    new = page.split('<code id="webhook-secret">', 1)[1].split("</code>", 1)[0]
    assert new != old and AlertSettings.objects.get().webhook_secret() == new
    connector_page = client.get(connector.get_absolute_url()).content.decode()
    assert new not in connector_page and str(old) not in connector_page


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.0.0.8"])
def test_a_webhook_url_resolving_to_a_non_public_address_is_refused_on_save(
    alice, connector, resolves, address
) -> None:
    resolves["hooks.example.com"] = [address]
    answer = signed_in(alice).post(save_url(connector), FORM)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "The alert settings were not saved" in page
    assert f"(which resolves to {address})" in page
    assert "Ops@Example.com, data@example.com" in page  # nothing typed is lost
    assert not AlertSettings.objects.exists()


def test_the_setting_allows_a_non_public_webhook_origin(
    alice, connector, resolves, settings
) -> None:
    resolves["hooks.example.com"] = ["10.0.0.8"]
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = ["https://hooks.example.com:443"]
    assert signed_in(alice).post(save_url(connector), FORM).status_code == 200
    assert AlertSettings.objects.get().webhook_url == FORM["webhook_url"]


def test_bad_recipients_and_events_without_a_destination_say_what_to_fix(alice, connector) -> None:
    client = signed_in(alice)
    page = client.post(
        save_url(connector), {**FORM, "webhook_url": "", "email_recipients": "ops@, x"}
    ).content.decode()
    assert "Not an e-mail address: ops@, x." in page
    page = client.post(
        save_url(connector), {**FORM, "webhook_url": "", "email_recipients": ""}
    ).content.decode()
    assert "Add an e-mail recipient or a webhook URL" in page
    assert not AlertSettings.objects.exists()


def test_a_viewer_sees_the_settings_and_deliveries_but_cannot_change_them(
    alice, bob, team, connector, failed_run, resolves
) -> None:
    ConnectorShare.objects.create(connector=connector, group=team, access=AccessLevel.VIEW)
    resolves["hooks.example.com"] = ["93.184.215.14"]
    services.save_settings(
        connector,
        recipients=["ops@example.com"],
        webhook_url="https://hooks.example.com/T000/B000/token123",
        events={"run_failed"},
        not_moved_hours=24,
    )
    alert = services.alert_for_run(failed_run().pk)
    assert alert is not None
    for attempt in range(1, 26):
        WebhookAttempt.objects.create(
            alert=alert, connector=connector, attempt=attempt, status_code=500
        )
    page = signed_in(bob).get(connector.get_absolute_url()).content.decode()
    assert 'id="alerts"' in page and "ops@example.com" in page
    assert "https://hooks.example.com:443/…" in page and "token123" not in page
    assert page.count("HTTP 500") == 20  # the latest 20
    assert "alert-settings-form" not in page and "regenerate-secret" not in page
    assert signed_in(bob).post(save_url(connector), FORM).status_code == 404
    assert AlertSettings.objects.get().recipients == ["ops@example.com"]
    editor_page = signed_in(alice).get(connector.get_absolute_url()).content.decode()
    assert "alert-settings-form" in editor_page and "B000/token123" in editor_page
