"""save_connector's shares: saved with a new connector, replaced or kept when it is edited, and
changed only by its owner and users with full access; sync_schedule's beat entry, every N
minutes or cron, and delete_connector removing it."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from connectors import services
from connectors.models import AccessLevel, Connector, ScheduleKind
from connectors.sources import get_source
from tests.support.factories import grant, make_connector


def save(connector: Connector, *, actor: Any, name: str | None = None, **kwargs: Any) -> Connector:
    """Save `connector` again as it is (renamed to `name`), as the wizard's done() does."""
    settings = get_source("s3").initial_from(connector)
    settings["access_key_secret"] = connector.s3.access_key_secret_encrypted
    return services.save_connector(
        owner=connector.owner,
        actor=actor,
        connector=connector,
        entity_type=connector.entity_type,
        entity_settings={name: getattr(connector, name) for name in services.ENTITY_SETTING_NAMES},
        source={"entity_source": "s3", "name": name or connector.name, "description": ""},
        source_settings=settings,
        **kwargs,
    )


def shares(connector: Connector) -> set[tuple[str, int]]:
    return {(share.group.name, share.access) for share in connector.shares.all()}


@pytest.fixture
def auditors(db: Any) -> Group:
    return Group.objects.create(name="auditors")


@pytest.fixture
def connector(alice: Any) -> Connector:
    return make_connector(alice, bucket="acme-data", endpoint="")


def test_a_new_connector_is_shared_with_no_one_unless_shares_are_given(connector) -> None:
    assert shares(connector) == set()


def test_the_owner_saves_shares_and_saving_again_replaces_them(
    alice, team, auditors, connector
) -> None:
    save(connector, actor=alice, shares={team: AccessLevel.EDIT, auditors: AccessLevel.VIEW})
    assert shares(connector) == {("data-team", AccessLevel.EDIT), ("auditors", AccessLevel.VIEW)}
    save(connector, actor=alice, shares={team: AccessLevel.FULL})
    assert shares(connector) == {("data-team", AccessLevel.FULL)}
    save(connector, actor=alice, shares={})
    assert shares(connector) == set()


def test_no_shares_given_keeps_them_as_they_are(alice, team, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.VIEW)
    save(connector, actor=alice, name="Renamed")
    assert shares(connector) == {("data-team", AccessLevel.VIEW)}


def test_a_full_access_user_may_change_the_shares(bob, team, auditors, connector) -> None:
    connector.shares.create(group=team, access=AccessLevel.FULL)
    grant(user=bob)
    save(connector, actor=bob, shares={team: AccessLevel.FULL, auditors: AccessLevel.VIEW})
    assert shares(connector) == {("data-team", AccessLevel.FULL), ("auditors", AccessLevel.VIEW)}


def test_an_edit_share_may_not_change_the_shares_and_nothing_is_saved(
    bob, team, auditors, connector
) -> None:
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    grant(user=bob)
    with pytest.raises(services.SharingDenied, match="Only the connector's owner and users"):
        save(connector, actor=bob, name="Taken over", shares={auditors: AccessLevel.FULL})
    connector.refresh_from_db()
    assert connector.name == "Profiles"
    assert shares(connector) == {("data-team", AccessLevel.EDIT)}
    save(connector, actor=bob, name="Edited")  # his edits keep the shares
    assert shares(connector) == {("data-team", AccessLevel.EDIT)}


def test_an_access_level_that_is_none_of_view_edit_or_full_saves_nothing(
    alice, team, connector
) -> None:
    with pytest.raises(ValueError, match="7"):
        save(connector, actor=alice, name="Renamed", shares={team: 7})
    connector.refresh_from_db()
    assert connector.name == "Profiles" and shares(connector) == set()


def as_cron(connector: Connector, expression: str = "0 6 * * 1-5") -> Connector:
    connector.schedule_active = True
    connector.schedule_kind = ScheduleKind.CRON
    connector.cron_expression = expression
    connector.schedule_timezone = "Europe/Lisbon"
    connector.save()
    services.sync_schedule(connector)
    return connector


def test_a_cron_schedule_gives_the_beat_entry_a_crontab_in_its_timezone_and_no_interval(
    connector,
) -> None:
    task = as_cron(connector).periodic_task
    task.refresh_from_db()
    assert task.interval is None
    crontab = task.crontab
    assert (
        crontab.minute,
        crontab.hour,
        crontab.day_of_month,
        crontab.month_of_year,
        crontab.day_of_week,
    ) == ("0", "6", "*", "*", "1-5")
    assert str(crontab.timezone) == "Europe/Lisbon"
    assert task.enabled


def test_switching_back_to_every_n_minutes_updates_the_same_entry_and_drops_the_crontab(
    connector,
) -> None:
    task = as_cron(connector).periodic_task
    connector.schedule_kind = ScheduleKind.INTERVAL
    connector.poll_interval_minutes = 15
    connector.save()
    services.sync_schedule(connector)
    assert connector.periodic_task_id == task.pk
    task.refresh_from_db()
    assert task.crontab is None
    assert task.interval.every == 15
    assert not CrontabSchedule.objects.exists()


def test_changing_the_expression_keeps_one_entry_and_no_unused_crontab(connector) -> None:
    task = as_cron(connector).periodic_task
    as_cron(connector, "15 */2 * * *")
    assert PeriodicTask.objects.filter(pk=task.pk).count() == 1
    assert list(CrontabSchedule.objects.values_list("minute", "hour")) == [("15", "*/2")]


def test_saving_other_settings_keeps_the_cron_schedule(alice, connector) -> None:
    as_cron(connector)
    save(connector, actor=alice, name="Renamed")
    connector.refresh_from_db()
    assert connector.schedule_kind == ScheduleKind.CRON
    assert connector.periodic_task.crontab.hour == "6"


@pytest.mark.parametrize("cron", [False, True])
def test_deleting_the_connector_removes_its_beat_entry_and_its_crontab(
    connector, cron: bool
) -> None:
    if cron:
        as_cron(connector)
    task_pk = connector.periodic_task_id
    assert task_pk is not None
    services.delete_connector(connector)
    assert not PeriodicTask.objects.filter(pk=task_pk).exists()
    assert not CrontabSchedule.objects.exists()


def test_a_crontab_another_entry_uses_is_kept_when_the_connector_goes(alice, connector) -> None:
    other = as_cron(make_connector(alice, name="Other", bucket="acme-data", endpoint=""))
    as_cron(connector)
    assert other.periodic_task.crontab == connector.periodic_task.crontab
    services.delete_connector(connector)
    assert CrontabSchedule.objects.get() == other.periodic_task.crontab
