"""Every Integration Type, end to end through a real worker: S3 file in, records out."""

from typing import Any

import pytest

from entities.models import EntityType, Record
from ingest import runs, tasks
from ingest.models import Run, RunTrigger
from tests.support.celery_worker import wait_for
from tests.support.factories import keys, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FILE = "profile_id,first_name,email\np1,Ada (new),ada@new.example\np3,Grace,grace@example.com\n"
PATCH_FILE = "profile_id,email\np1,ada@new.example\np3,grace@example.com\n"

# Before: p1 (Ada, ada@old.example, last name Lovelace) and p2 (Alan). Upsert, Update and Sync
# map no last_name column, so they leave it alone; Patch maps it but the file lacks it.
EXPECTED = {
    "insert": {
        "p1": ("Ada", "ada@old.example", "Lovelace"),
        "p2": ("Alan", None, None),
        "p3": ("Grace", "grace@example.com", None),
    },
    "update": {"p1": ("Ada (new)", "ada@new.example", "Lovelace"), "p2": ("Alan", None, None)},
    "upsert": {
        "p1": ("Ada (new)", "ada@new.example", "Lovelace"),
        "p2": ("Alan", None, None),
        "p3": ("Grace", "grace@example.com", None),
    },
    "sync": {
        "p1": ("Ada (new)", "ada@new.example", "Lovelace"),
        "p3": ("Grace", "grace@example.com", None),
    },
    "patch": {
        "p1": ("Ada", "ada@new.example", "Lovelace"),
        "p2": ("Alan", None, None),
        "p3": (None, "grace@example.com", None),
    },
}


def seed_records(connector_id: int) -> None:
    """p1 and p2, last written by the connector (Sync removes only its own connector's)."""
    profile = EntityType.objects.get(name="Profile")
    Record.objects.create(
        entity_type=profile,
        connector_id=connector_id,
        external_id="p1",
        data={
            "profile_id": "p1",
            "first_name": "Ada",
            "email": "ada@old.example",
            "last_name": "Lovelace",
        },
    )
    Record.objects.create(
        entity_type=profile,
        connector_id=connector_id,
        external_id="p2",
        data={"profile_id": "p2", "first_name": "Alan"},
    )


def state() -> dict[str, tuple[Any, Any, Any]]:
    return {
        r.external_id: (r.data.get("first_name"), r.data.get("email"), r.data.get("last_name"))
        for r in Record.objects.all()
    }


@pytest.mark.parametrize("integration_type", ["insert", "update", "upsert", "sync", "patch"])
def test_each_integration_type_does_what_it_says(
    worker: Any,
    alice: Any,
    bucket: str,
    s3_endpoint: str,
    s3_client: Any,
    integration_type: str,
) -> None:
    mapping = {
        "profile_id": "profile_id",
        "first_name": "first_name",
        "email": "email",
        "last_name": "last_name",
    }
    if integration_type in {"upsert", "sync", "update"}:
        mapping.pop("last_name")  # Upsert-like types set every mapped field
    connector = make_connector(
        alice,
        bucket=bucket,
        endpoint=s3_endpoint,
        mapping=mapping,
        integration_type=integration_type,
        sync_delete_limit_percent=100,  # Sync removes 1 of 2 records, above the default 10%
    )
    seed_records(connector.pk)
    put(
        s3_client,
        bucket,
        "incoming/profiles.csv",
        PATCH_FILE if integration_type == "patch" else FILE,
    )
    run = runs.start_run(connector, trigger=RunTrigger.MANUAL)

    tasks.run_connector.delay(run.pk)

    wait_for(lambda: Run.objects.get(pk=run.pk).finished_at is not None, what="the run")
    run.refresh_from_db()
    assert run.files_succeeded == 1, run.notes
    expected = EXPECTED[integration_type]
    assert state() == expected
    assert keys(s3_client, bucket) == ["done/profiles.csv"]
