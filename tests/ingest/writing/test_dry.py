"""DryStatements: write_file with them reports what it would report writing the rows for real
(counts, every problem, the file's failure), and writes nothing: every statement is a SELECT.

Each case is written dry, then for real in a savepoint rolled back, and the two outcomes are
compared; both ways the writer is given CSV rows (csv_reading).
"""

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from entities.models import Record
from ingest.types import FileOutcome, IngestConfig
from ingest.writing.dry import DryStatements
from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, ALAN, GRACE, HEADER, counts, ids, rows_of, seed, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]

BAD_EMAIL = "p4,Bad,Email,not-an-email,,,5\n"
BAD_POINTS = "p5,Bad,Points,p5@example.com,,,lots\n"
RAGGED = "p6,Too,Few\n"
ADA_AGAIN = "p1,Ada,Again,ada2@example.com,,,11\n"
NO_ID = ",No,Id,noid@example.com,,,1\n"

CASES = {
    "new and existing": HEADER + ADA + GRACE,
    "bad values": HEADER + GRACE + BAD_EMAIL + BAD_POINTS,
    "a ragged row": HEADER + GRACE + RAGGED,
    "a repeated identifier": HEADER + ADA + GRACE + ADA_AGAIN,
    "no identifier": HEADER + GRACE + NO_ID,
    "only bad rows": HEADER + BAD_EMAIL,
}


def outcome_key(outcome: FileOutcome) -> tuple[Any, ...]:
    return (*counts(outcome), outcome.errors, outcome.failure)


def dry_and_real(text: str, config: IngestConfig, **options: Any) -> tuple[FileOutcome, ...]:
    records = list(Record.objects.order_by("pk").values())
    with CaptureQueriesContext(connection) as queries:
        dry = write_csv(text, config, statements=DryStatements(config, timezone.now()), **options)
    assert list(Record.objects.order_by("pk").values()) == records  # nothing written
    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    assert statements and all(sql.startswith("SELECT") for sql in statements), statements
    assert not any("FOR UPDATE" in sql or "FOR KEY SHARE" in sql for sql in statements)
    with transaction.atomic():
        real = write_csv(text, config, **options)
        transaction.set_rollback(True)
    return dry, real


@pytest.mark.parametrize("integration_type", ["insert", "update", "upsert", "sync", "patch"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("tolerance", ["0", "100%"])
def test_a_dry_write_reports_what_the_write_reports(
    profile, integration_type: str, case: str, tolerance: str
) -> None:
    seed(profile)  # p1 and p2 exist, written by connector 1
    config = config_for(profile, integration_type, token=5, tolerance=tolerance)
    dry, real = dry_and_real(CASES[case], config)
    assert outcome_key(dry) == outcome_key(real)


def test_a_repeat_in_a_later_batch_is_a_duplicate_too(profile) -> None:
    config = config_for(profile, "upsert", token=5, tolerance="100%")
    dry, real = dry_and_real(HEADER + ADA + ALAN + GRACE + ADA_AGAIN, config, batch_size=2)
    assert outcome_key(dry) == outcome_key(real)
    assert [e.reason for e in dry.errors] == [
        "duplicate unique identifier 'p1' (it appears earlier in the file)"
    ]


def test_sync_counts_the_connectors_records_the_rows_do_not_name(profile) -> None:
    seed(profile)  # p1, p2 by connector 1
    write_csv(HEADER + GRACE, config_for(profile, token=98, connector=2))  # p3 by another
    dry, real = dry_and_real(HEADER + ADA, config_for(profile, "sync", token=5, connector=1))
    assert dry.deleted == real.deleted == 1  # p2; never connector 2's p3
    assert ids(profile) == ["p1", "p2", "p3"]


def test_sync_reports_its_deletion_limit_as_a_run_does(profile) -> None:
    write_csv(HEADER + rows_of("s", range(20)), config_for(profile, token=90))
    config = config_for(profile, "sync", token=5, delete_limit=10)
    dry, real = dry_and_real(HEADER + rows_of("s", range(2)), config)
    assert outcome_key(dry) == outcome_key(real)
    assert dry.failure is not None and dry.failure.startswith("Sync would remove 18 of the 20")


def test_a_new_connectors_sync_removes_nothing(profile) -> None:
    seed(profile)
    config = config_for(profile, "sync", token=5, delete_limit=10)
    config = IngestConfig(**{**config.__dict__, "connector_id": None})
    dry = write_csv(HEADER + GRACE, config, statements=DryStatements(config, timezone.now()))
    assert (dry.created, dry.deleted, dry.failure) == (1, 0, None)


def test_a_missing_required_column_fails_the_file_as_a_run_does(profile) -> None:
    config = config_for(profile, token=5, mapping={"profile_id": "id", "email": "email"})
    dry, real = dry_and_real(HEADER + ADA, config)
    assert dry.failure == real.failure
    assert dry.failure == (
        "the file has no column 'id', which is mapped to the required field 'profile_id'"
    )
