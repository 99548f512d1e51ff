"""Connectors and files for tests, built through the same services the app uses."""

from typing import Any

from connectors import crypto, services
from connectors.models import DEFAULT_SYNC_DELETE_LIMIT_PERCENT, Connector
from entities.models import EntityAccess, EntityRight, EntityType

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PROFILE_FIELDS = (
    "profile_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birth_date",
    "loyalty_points",
)


def s3_settings(bucket: str, endpoint: str, **overrides: Any) -> dict[str, Any]:
    """The S3 step's cleaned settings (Access Key ID and Secret, the secret as its token)."""
    return {
        "bucket": bucket,
        "auth_type": "access_key",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "access_key_secret": crypto.encrypt(SECRET),
        "iam_role_arn": "",
        "region": "",
        "endpoint_url": endpoint,
        "source_path": "incoming/",
        "success_path": "done/",
        "failed_path": "failed/",
        **overrides,
    }


def make_connector(
    owner: Any,
    *,
    bucket: str,
    endpoint: str,
    name: str = "Profiles",
    source_path: str = "incoming/",
    success_path: str = "done/",
    failed_path: str = "failed/",
    integration_type: str = "upsert",
    file_format: str = "csv",
    file_pattern: str = "",
    error_tolerance: str = "0",
    entity: str = "Profile",
    mapping: dict[str, str] | None = None,
    sync_delete_limit_percent: int = DEFAULT_SYNC_DELETE_LIMIT_PERCENT,
) -> Connector:
    entity_type = EntityType.objects.get(name=entity)
    if mapping is None:
        mapping = {field.name: field.name for field in entity_type.fields.all()}
    return services.save_connector(
        owner=owner,
        connector=None,
        entity_type=entity_type,
        entity_settings={
            "integration_type": integration_type,
            "file_format": file_format,
            "csv_delimiter": ",",
            "file_pattern": file_pattern,
            "field_mapping": mapping,
            "error_tolerance": error_tolerance,
            "sync_delete_limit_percent": sync_delete_limit_percent,
            "schedule_active": False,
            "poll_interval_minutes": 30,
        },
        source={"entity_source": "s3", "name": name, "description": ""},
        source_settings=s3_settings(
            bucket,
            endpoint,
            source_path=source_path,
            success_path=success_path,
            failed_path=failed_path,
        ),
    )


def grant(
    *, user: Any = None, group: Any = None, entity: str = "Profile", level: int = EntityRight.WRITE
) -> EntityAccess:
    """Give a user or a group access to an entity type (as an administrator does in admin)."""
    access, _ = EntityAccess.objects.update_or_create(
        entity_type=EntityType.objects.get(name=entity),
        user=user,
        group=group,
        defaults={"level": level},
    )
    return access


GOOD_CSV = (
    "profile_id,first_name,last_name,email\n"
    "p1,Ada,Lovelace,ada@example.com\n"
    "p2,Alan,Turing,alan@example.com\n"
)
BAD_CSV = (
    "profile_id,first_name,last_name,email\n"
    "p3,Grace,Hopper,grace@example.com\n"
    "p4,Bad,Email,not-an-email\n"
)


def put(client: Any, bucket: str, key: str, body: str | bytes) -> None:
    client.put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    paginator = client.get_paginator("list_objects_v2")
    return sorted(
        item["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    )


def run_now(connector: Any, user: Any = None) -> Any:
    """A manual run of the connector, run to its end in this process."""
    from ingest.inline import run_inline
    from ingest.runs import start_run

    return run_inline(start_run(connector, trigger="manual", user=user))


def revoke(user: Any) -> None:
    """Take the user's access to Profile away (as an administrator does in admin)."""
    EntityAccess.objects.filter(user=user, entity_type__name="Profile").delete()


# What a run of alice's connector is refused with once revoke(alice).
REFUSED = "alice, who owns this connector and whose access its runs use, may not write into Profile"


def good(number: int) -> str:
    """GOOD_CSV with ids of its own (p1-<number>, p2-<number>)."""
    return GOOD_CSV.replace("p1", f"p1-{number}").replace("p2", f"p2-{number}")


def ids_as(text: str, letter: str) -> str:
    """The file with its ids p1, p2, ... renamed <letter>1, <letter>2, ..."""
    return text.replace("\np", f"\n{letter}")


# A source file's two versions, for tests of a source replaced while a run has it.
V1 = "profile_id,first_name,last_name,email\np1,Ada,Lovelace,ada@example.com\n"
V2 = V1 + "p9,Grace,Hopper,grace@example.com\n"  # the customer's new version: p9 is in it only


def body(s3_client: Any, bucket: str, key: str) -> str:
    """The object's content, as text."""
    return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


# A file nested deeper than any parser may recurse.
DEEP = 100_000
DEEP_JSON = "[" + "[" * DEEP + "]" * DEEP + "]"
