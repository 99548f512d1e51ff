"""Files written by write_file for tests of the writer: Profile rows, both ways the writer is
given CSV rows (the csv_reading fixture), and what the records hold afterwards.

Each file is written with its own token (the ledger entry id), as the orchestrator does."""

import io
from typing import Any

import pytest
from django.db import transaction

from entities.models import EntityType, Record
from ingest.parsers import iter_rows
from ingest.types import FileOutcome, IngestConfig
from ingest.writing import write_file
from tests.support.ingest_configs import config_for

HEADER = "profile_id,first_name,last_name,email,phone,birth_date,loyalty_points\n"
ADA = "p1,Ada,Lovelace,ada@example.com,+44 20 7946 0000,1815-12-10,10\n"
ALAN = "p2,Alan,Turing,alan@example.com,,1912-06-23,20\n"
GRACE = "p3,Grace,Hopper,grace@example.com,,,30\n"


READ_IN_BLOCKS = {"on": True}


@pytest.fixture(params=["plain blocks", "row by row"])
def csv_reading(request: pytest.FixtureRequest) -> None:
    """Every CSV test runs both ways the writer is given rows: plain lines in blocks (as ingest
    reads files) and row by row; both must write and report the same."""
    READ_IN_BLOCKS["on"] = request.param == "plain blocks"


def write_csv(text: str, config: IngestConfig, **options: Any) -> FileOutcome:
    rows = iter_rows(
        io.BytesIO(text.encode()), file_format="csv", plain_blocks=READ_IN_BLOCKS["on"]
    )
    return write_file(rows, config, **options)


def write_csv_as_a_run_does(text: str, config: IngestConfig, **options: Any) -> FileOutcome:
    """In a savepoint that a file that fails rolls back, as ingest runs write files."""
    with transaction.atomic():
        outcome = write_csv(text, config, **options)
        if outcome.failure is not None:
            transaction.set_rollback(True)
    return outcome


def data_of(external_id: str) -> dict[str, Any]:
    return Record.objects.get(external_id=external_id).data


def data_time(external_id: str) -> Any:
    return Record.objects.get(external_id=external_id).created_at


def ids(entity: EntityType) -> list[str]:
    return sorted(Record.objects.filter(entity_type=entity).values_list("external_id", flat=True))


def counts(outcome: FileOutcome) -> tuple[int, int, int, int, int, int]:
    return (
        outcome.rows_total,
        outcome.created,
        outcome.updated,
        outcome.deleted,
        outcome.skipped,
        outcome.failed_rows,
    )


def seed(entity: EntityType) -> None:
    """p1 and p2 exist, written by an earlier file (token 99)."""
    write_csv(HEADER + ADA + ALAN, config_for(entity, token=99))


def rows_of(prefix: str, numbers: range, first_name: str = "First") -> str:
    return "".join(f"{prefix}{n},{first_name},Row,{prefix}{n}@example.com,,,{n}\n" for n in numbers)


def writers(entity: EntityType) -> dict[str, int | None]:
    return dict(
        Record.objects.filter(entity_type=entity).values_list("external_id", "connector_id")
    )


def seed_thousand(entity: EntityType, connector: int = 1) -> None:
    write_csv(HEADER + rows_of("s", range(1000)), config_for(entity, token=90, connector=connector))
