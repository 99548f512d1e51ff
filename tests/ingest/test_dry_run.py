"""Check sample (ingest.dry_run): a sample's rows checked with settings not saved yet, as a
run would write them, with the messages a run gives, and nothing written."""

from typing import Any

import pytest

from entities.models import EntityType, Record
from ingest.dry_run import DryRun, check_rows
from ingest.models import SourceFile
from ingest.sampling import Head, sample_of
from tests.support.factories import PROFILE_FIELDS, make_connector, run_now
from tests.support.factories import put as put_object
from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, ALAN, HEADER, write_csv

pytestmark = pytest.mark.django_db

DEMO_BROKEN = (
    "profile_id,first_name,last_name,email,phone,birth_date,loyalty_points\n"
    "P-2001,Katherine,Johnson,katherine@example.com,,1918-08-26,40\n"
    "P-2002,Margaret,Hamilton,not-an-email,,1936-08-17,lots\n"
)
MAPPING = {name: name for name in PROFILE_FIELDS}


@pytest.fixture
def profile() -> EntityType:
    return EntityType.objects.get(name="Profile")


def check(text: str, profile: EntityType, **settings: Any) -> DryRun:
    options: dict[str, Any] = {
        "integration_type": "upsert",
        "mapping": MAPPING,
        "error_tolerance": "0",
        "delete_limit_percent": 10,
        "connector_id": None,
        **settings,
    }
    head = Head(text.encode(), complete=True)
    rows = sample_of(head, name="s.csv", file_format="csv", delimiter=",", limit=1024**2).rows()
    return check_rows(rows, entity_type=profile, **options)


def test_a_broken_row_is_reported_per_column_with_a_runs_messages(profile) -> None:
    result = check(DEMO_BROKEN, profile)
    assert (result.rows, result.created, result.failed_rows) == (2, 0, 1)  # the file fails
    assert [(p.line, p.column) for p in result.problems] == [(3, "email"), (3, "loyalty_points")]
    assert result.failure == "1 of 2 rows is invalid; the connector allows none"
    assert not Record.objects.exists()


def test_what_a_check_reports_is_what_the_run_reports(
    alice, bucket, s3_endpoint, s3_client, profile
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, error_tolerance="1")
    result = check(DEMO_BROKEN, profile, error_tolerance="1", connector_id=connector.pk)
    put_object(s3_client, bucket, "incoming/broken.csv", DEMO_BROKEN)
    run = run_now(connector)
    ledger = SourceFile.objects.get(run=run)
    assert (result.created, result.failed_rows, result.failure) == (1, 1, None)
    assert (ledger.records_created, ledger.records_failed) == (1, 1)
    reported = sorted((e.line, e.column, e.reason) for e in ledger.row_errors.all())
    assert reported == sorted((p.line, p.column, p.reason) for p in result.problems)


def test_counts_follow_the_integration_type(profile) -> None:
    write_csv(HEADER + ADA, config_for(profile, token=99))  # p1 exists
    rows = HEADER + ADA + ALAN
    assert check(rows, profile, integration_type="insert").skipped == 1
    update = check(rows, profile, integration_type="update")
    assert (update.updated, update.skipped, update.created) == (1, 1, 0)
    upsert = check(rows, profile)
    assert (upsert.created, upsert.updated) == (1, 1)


def test_sync_counts_against_the_sample_what_the_connector_would_remove(profile) -> None:
    write_csv(HEADER + ADA + ALAN, config_for(profile, token=99, connector=7))
    result = check(HEADER + ADA, profile, integration_type="sync", connector_id=7)
    assert result.removes and result.removed == 1
    assert result.failure is not None and "Sync would remove 1 of the 2 records" in result.failure
    new = check(HEADER + ADA, profile, integration_type="sync", connector_id=None)
    assert (new.removed, new.failure) == (0, None)
    assert Record.objects.count() == 2


def test_the_summary_is_plain_values(profile) -> None:
    summary = check(DEMO_BROKEN, profile).summary()
    assert summary == {
        "integration_type": "upsert",
        "rows": 2,
        "created": 0,
        "updated": 0,
        "skipped": 0,
        "removed": 0,
        "failed_rows": 1,
        "failure": "1 of 2 rows is invalid; the connector allows none",
    }
