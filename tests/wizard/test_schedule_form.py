"""Entity Specific Settings' schedule: every N minutes or a cron expression in a timezone,
refused with a clear message when beat could not run it, with the next runs shown."""

from typing import Any

import pytest
from django.test import Client

from connectors.models import Connector, ScheduleKind
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

NEW = "/connectors/new/"
CRON = {
    "schedule_kind": "cron",
    "cron_expression": "0 6 * * 1-5",
    "schedule_timezone": "Europe/Lisbon",
}


@pytest.fixture
def client_alice(alice: Any) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def post_settings(client: Client, **values: Any) -> Any:
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    return post_step(client, NEW, "entity_settings", entity_settings_values(**values))


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"cron_expression": "0 6 * *"}, "cron_expression", "has 5 fields"),
        ({"cron_expression": "0 25 * * *"}, "cron_expression", "The hour field (25)"),
        ({"cron_expression": ""}, "cron_expression", "Enter a cron expression"),
        ({"schedule_timezone": "Lisbon"}, "schedule_timezone", "Lisbon is not a known timezone"),
    ],
)
def test_a_bad_cron_or_timezone_keeps_the_step_with_a_message(
    client_alice: Client, values: dict[str, str], field: str, message: str
) -> None:
    response = post_settings(client_alice, **{**CRON, **values})
    form = response.context["form"]
    assert response.context["wizard"]["steps"].current == "entity_settings"
    assert any(message in error for error in form.errors[field])
    assert message in response.content.decode()
    assert form.next_run_times() == []


def test_cron_needs_no_interval_and_every_n_minutes_needs_one(client_alice: Client) -> None:
    response = post_settings(client_alice, **CRON, poll_interval_minutes="")
    assert response.context["wizard"]["steps"].current == "source"
    response = post_settings(client_alice, poll_interval_minutes="")
    assert "Enter how often to poll" in response.content.decode()


def test_the_step_shows_the_next_three_runs_of_a_valid_cron(client_alice: Client) -> None:
    # Another field's error keeps the step on the page: the schedule's preview is shown.
    response = post_settings(client_alice, **CRON, error_tolerance="lots")
    times = response.context["form"].next_run_times()
    assert len(times) == 3
    assert all(time.endswith(("WET", "WEST")) and " 06:00 " in time for time in times)
    assert f"Next runs: {', '.join(times)}" in response.content.decode()


def test_a_cron_schedule_is_saved_shown_and_survives_an_edit(
    s3_endpoint: str, client_alice: Client, alice: Any
) -> None:
    source = s3_access_key_values("acme-data", endpoint=s3_endpoint)
    walk_wizard(client_alice, NEW, source_settings=source, settings=entity_settings_values(**CRON))
    connector = Connector.objects.get(owner=alice)
    assert connector.schedule_kind == ScheduleKind.CRON
    assert connector.periodic_task.crontab.day_of_week == "1-5"
    assert connector.periodic_task.interval is None
    page = client_alice.get(connector.get_absolute_url()).content.decode()
    assert "cron `0 6 * * 1-5` (Europe/Lisbon); next: " in page

    url = f"/connectors/{connector.pk}/edit/"
    client_alice.get(url)
    response = post_step(client_alice, url, "entity", entity_values())
    assert response.context["form"].initial["cron_expression"] == "0 6 * * 1-5"
    assert len(response.context["form"].next_run_times()) == 3
    post_step(
        client_alice, url, "entity_settings", entity_settings_values(**CRON, file_pattern="p_")
    )
    post_step(client_alice, url, "source", source_values(name="Renamed"))
    post_step(client_alice, url, "source_settings", {**source, "access_key_secret": ""})
    review = through_to_review(client_alice, url, mapping=field_mapping_values())
    assert "cron `0 6 * * 1-5` (Europe/Lisbon); next: " in review.content.decode()
    post_step(client_alice, url, "review", {})
    connector.refresh_from_db()
    assert connector.name == "Renamed"
    assert (connector.cron_expression, connector.schedule_timezone) == (
        "0 6 * * 1-5",
        "Europe/Lisbon",
    )
    assert connector.periodic_task.crontab.hour == "6"
