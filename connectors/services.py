"""Writes to connectors: save from the wizard (with its shares), schedule, enable/disable,
delete."""

import json
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from connectors.models import AccessLevel, Connector, ConnectorShare, ScheduleKind
from connectors.schedules import parse_cron, parse_timezone
from connectors.selectors import entity_access_refusal, may_change_shares
from connectors.sources import get_source
from entities.models import EntityType

POLL_TASK = "ingest.tasks.poll_connector"
ENTITY_SETTING_NAMES = (
    "integration_type",
    "file_format",
    "csv_delimiter",
    "file_pattern",
    "field_mapping",
    "error_tolerance",
    "sync_delete_limit_percent",
    "schedule_active",
    "poll_interval_minutes",
)
# Set when given; a caller that does not know of them keeps the connector's (or the default).
CRON_SETTING_NAMES = ("schedule_kind", "cron_expression", "schedule_timezone")


class EntityAccessDenied(Exception):
    """The connector may not be saved: the acting user or its owner lacks access to the entity
    for its Integration Type; str() says who and what."""


class SharingDenied(Exception):
    """The acting user may not change who the connector is shared with (only its owner and
    users with full access may); str() says so."""


SHARING_DENIED = (
    "Only the connector's owner and users with full access may change who it is shared with."
)


@transaction.atomic
def save_connector(
    *,
    owner: User,
    actor: User | None = None,
    connector: Connector | None,
    entity_type: EntityType,
    entity_settings: dict[str, Any],
    source: dict[str, Any],
    source_settings: dict[str, Any],
    external_id: str = "",
    shares: Mapping[Group, int] | None = None,
) -> Connector:
    """Create (connector=None) or update a connector from the wizard's cleaned data. `actor`
    (the owner if not given) is who saves it; both need access to the entity for the
    connector's Integration Type, or EntityAccessDenied is raised and nothing is saved.
    `shares` (group → AccessLevel) replaces whom the connector is shared with; None keeps it
    as it is (a new connector: shared with no one). Only the owner and users with full access
    may pass shares for an existing connector, or SharingDenied is raised and nothing is
    saved."""
    if shares is not None and not may_change_shares(actor or owner, connector):
        raise SharingDenied(SHARING_DENIED)
    refusal = entity_access_refusal(
        owner=owner,
        actor=actor or owner,
        entity_type=entity_type,
        integration_type=entity_settings["integration_type"],
    )
    if refusal is not None:
        raise EntityAccessDenied(refusal)
    if connector is None:
        connector = Connector(owner=owner)
    connector.entity_type = entity_type
    for name in ENTITY_SETTING_NAMES:
        setattr(connector, name, entity_settings[name])
    for name in CRON_SETTING_NAMES:
        if name in entity_settings:
            setattr(connector, name, entity_settings[name])
    connector.source_type = source["entity_source"]
    connector.name = source["name"]
    connector.description = source.get("description", "")
    connector.save()
    get_source(connector.source_type).save(connector, source_settings, external_id=external_id)
    if shares is not None:
        replace_shares(connector, shares)
    sync_schedule(connector)
    return connector


def replace_shares(connector: Connector, shares: Mapping[Group, int]) -> None:
    """Share the connector with exactly these groups, each with its AccessLevel (ValueError
    for anything else); callers check who may (see save_connector)."""
    levels = {group: AccessLevel(access) for group, access in shares.items()}
    connector.shares.exclude(group__in=[group.pk for group in levels]).delete()
    for group, access in levels.items():
        ConnectorShare.objects.update_or_create(
            connector=connector, group=group, defaults={"access": access}
        )


def sync_schedule(connector: Connector) -> None:
    """Keep the connector's beat entry in step with its schedule (every N minutes, or a cron
    expression in a timezone: the entry has exactly one of them) and enabled flag."""
    enabled = connector.enabled and connector.schedule_active
    task = connector.periodic_task
    if task is None:
        task = PeriodicTask(name=f"connector-{connector.pk}", task=POLL_TASK)
    previous = task.crontab if task.pk else None
    if connector.schedule_kind == ScheduleKind.CRON:
        cron = parse_cron(connector.cron_expression)
        task.crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=cron.minute,
            hour=cron.hour,
            day_of_month=cron.day_of_month,
            month_of_year=cron.month_of_year,
            day_of_week=cron.day_of_week,
            timezone=parse_timezone(connector.schedule_timezone),
        )
        task.interval = None
    else:
        task.interval, _ = IntervalSchedule.objects.get_or_create(
            every=connector.poll_interval_minutes, period=IntervalSchedule.MINUTES
        )
        task.crontab = None
    task.args = json.dumps([connector.pk])
    task.kwargs = "{}"
    task.enabled = enabled
    task.description = f"Poll connector {connector.name}"
    task.save()
    if connector.periodic_task_id != task.pk:
        connector.periodic_task = task
        connector.save(update_fields=["periodic_task"])
    if previous is not None and previous != task.crontab:
        _drop_if_unused(previous)


def _drop_if_unused(crontab: CrontabSchedule) -> None:
    """A cron schedule no beat entry uses any more is removed (one per expression and
    timezone would otherwise pile up); shared ones stay."""
    if not PeriodicTask.objects.filter(crontab=crontab).exists():
        crontab.delete()


def set_enabled(connector: Connector, *, enabled: bool) -> None:
    connector.enabled = enabled
    connector.save(update_fields=["enabled", "updated_at"])
    sync_schedule(connector)


@transaction.atomic
def delete_connector(connector: Connector) -> None:
    """Remove the connector and its beat entry (and the entry's cron schedule, if no other
    entry uses it)."""
    task = connector.periodic_task
    connector.delete()
    if task is not None:
        crontab = task.crontab
        task.delete()
        if crontab is not None:
            _drop_if_unused(crontab)
