"""Writes to connectors: save from the wizard, schedule, enable/disable, delete."""

import json
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.models import Connector
from connectors.selectors import entity_access_refusal
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


class EntityAccessDenied(Exception):
    """The connector may not be saved: the acting user or its owner lacks access to the entity
    for its Integration Type; str() says who and what."""


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
) -> Connector:
    """Create (connector=None) or update a connector from the wizard's cleaned data. `actor`
    (the owner if not given) is who saves it; both need access to the entity for the
    connector's Integration Type, or EntityAccessDenied is raised and nothing is saved."""
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
    connector.source_type = source["entity_source"]
    connector.name = source["name"]
    connector.description = source.get("description", "")
    connector.save()
    get_source(connector.source_type).save(connector, source_settings, external_id=external_id)
    sync_schedule(connector)
    return connector


def sync_schedule(connector: Connector) -> None:
    """Keep the connector's beat entry in step with its schedule and enabled flag."""
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=connector.poll_interval_minutes, period=IntervalSchedule.MINUTES
    )
    enabled = connector.enabled and connector.schedule_active
    task = connector.periodic_task
    if task is None:
        task = PeriodicTask(name=f"connector-{connector.pk}", task=POLL_TASK)
    task.interval = interval
    task.args = json.dumps([connector.pk])
    task.kwargs = "{}"
    task.enabled = enabled
    task.description = f"Poll connector {connector.name}"
    task.save()
    if connector.periodic_task_id != task.pk:
        connector.periodic_task = task
        connector.save(update_fields=["periodic_task"])


def set_enabled(connector: Connector, *, enabled: bool) -> None:
    connector.enabled = enabled
    connector.save(update_fields=["enabled", "updated_at"])
    sync_schedule(connector)


@transaction.atomic
def delete_connector(connector: Connector) -> None:
    task = connector.periodic_task
    connector.delete()
    if task is not None:
        task.delete()
