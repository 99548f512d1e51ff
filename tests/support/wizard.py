"""Walk the connector wizard through the Django test client."""

from typing import Any

from django.test import Client

from entities.models import EntityType
from tests.support.factories import PROFILE_FIELDS

PREFIX = "connector_wizard"


def step_data(step: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{step}-{name}": value for name, value in values.items()}


def post_step(
    client: Client, url: str, step: str, values: dict[str, Any], *, query: str = "", **extra: Any
) -> Any:
    wizard = f"{PREFIX}_{url.strip('/').split('/')[-2] if url.endswith('/edit/') else 'new'}"
    data = {f"{wizard}-current_step": step, **step_data(step, values), **extra}
    return client.post(url + query, data)


def press_test_connection(client: Client, url: str, step: str, values: dict[str, Any]) -> Any:
    """What the Test connection button posts: the step's fields, and the step it is on as the
    step to go to."""
    return post_step(client, url, step, values, wizard_goto_step=step)


def entity_values(name: str = "Profile") -> dict[str, Any]:
    return {"entity": EntityType.objects.get(name=name).pk}


def press_sample_button(
    client: Client, url: str, action: str, values: dict[str, Any], **extra: Any
) -> Any:
    """What Field Mapping's buttons post (Check sample: "check"; Read this file: "pick";
    Upload sample: "upload"): the step's fields, the step as the step to go to, and which
    button in the URL."""
    return post_step(
        client,
        url,
        "field_mapping",
        values,
        query=f"?sample={action}",
        wizard_goto_step="field_mapping",
        **extra,
    )


def entity_settings_values(**overrides: Any) -> dict[str, Any]:
    values = {
        "integration_type": "upsert",
        "file_format": "csv",
        "csv_delimiter": ",",
        "file_pattern": "",
        "error_tolerance": "0",
        "schedule_active": "on",
        "poll_interval_minutes": "30",
        "schedule_kind": "interval",
        "cron_expression": "",
        "schedule_timezone": "UTC",
    }
    values.update(overrides)
    return values


def field_mapping_values(**overrides: Any) -> dict[str, Any]:
    """Each Profile field read from the column of its own name."""
    values: dict[str, Any] = {f"map__{field}": field for field in PROFILE_FIELDS}
    values.update({f"map__{name}": column for name, column in overrides.items()})
    return values


def source_values(name: str = "Profiles from S3", **overrides: Any) -> dict[str, Any]:
    return {"entity_source": "s3", "name": name, "description": "Nightly export", **overrides}


def s3_access_key_values(bucket: str, endpoint: str = "", **overrides: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "auth_type": "access_key",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "access_key_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "iam_role_arn": "",
        "region": "",
        "endpoint_url": endpoint,
        "source_path": "incoming/",
        "success_path": "done/",
        "failed_path": "failed/",
        **overrides,
    }


def share_values(shares: dict[Any, int] | None = None) -> dict[str, Any]:
    """Share Settings' fields: an access level (connectors.models.AccessLevel) by group."""
    return {f"group_{group.pk}": access for group, access in (shares or {}).items()}


def through_to_review(
    client: Client,
    url: str,
    *,
    mapping: dict[str, Any] | None = None,
    shares: dict[Any, int] | None = None,
) -> Any:
    """Post the steps between Source Specific Settings and Review (Field Mapping: `mapping`, or
    every field from its own column; Share Settings: shared with `shares`, or no one); return
    the Review page."""
    post_step(client, url, "field_mapping", mapping or field_mapping_values())
    return post_step(client, url, "share", share_values(shares))


def walk_wizard(
    client: Client,
    url: str,
    *,
    source_settings: dict[str, Any],
    entity: str = "Profile",
    settings: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
    mapping: dict[str, Any] | None = None,
    shares: dict[Any, int] | None = None,
) -> Any:
    """Post every step in order; return the final response."""
    client.get(url)
    post_step(client, url, "entity", entity_values(entity))
    post_step(client, url, "entity_settings", settings or entity_settings_values())
    post_step(client, url, "source", source or source_values())
    post_step(client, url, "source_settings", source_settings)
    through_to_review(client, url, mapping=mapping, shares=shares)
    return post_step(client, url, "review", {})
