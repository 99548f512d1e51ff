"""write_file: Integration Types, duplicates, tolerance, errors, failed files and query counts.

Each file is written with its own token (the ledger entry id), as the orchestrator does.
"""

import io
import re
from typing import Any

import pytest
from django.db import connection, transaction

from entities.models import EntityField, EntityType, Record
from ingest.parsers import BadRow, iter_rows
from ingest.types import FileFailed, FileOutcome, IngestConfig, ParsedRow, RowProblem
from ingest.writing import write_file
from tests.support.ingest_configs import config_for

pytestmark = pytest.mark.django_db

HEADER = "profile_id,first_name,last_name,email,phone,birth_date,loyalty_points\n"
ADA = "p1,Ada,Lovelace,ada@example.com,+44 20 7946 0000,1815-12-10,10\n"
ALAN = "p2,Alan,Turing,alan@example.com,,1912-06-23,20\n"
GRACE = "p3,Grace,Hopper,grace@example.com,,,30\n"


@pytest.fixture
def profile() -> EntityType:
    return EntityType.objects.get(name="Profile")


READ_IN_BLOCKS = {"on": True}


@pytest.fixture(autouse=True, params=["plain blocks", "row by row"])
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


# --- what a record holds --------------------------------------------------------------------


def test_a_record_holds_typed_values_by_field_name(profile) -> None:
    outcome = write_csv(HEADER + ADA + ALAN, config_for(profile, token=7))
    assert counts(outcome) == (2, 2, 0, 0, 0, 0)
    record = Record.objects.get(external_id="p1")
    assert record.entity_type == profile and record.last_file_id == 7
    assert record.data == {
        "profile_id": "p1",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 7946 0000",
        "birth_date": "1815-12-10",
        "loyalty_points": 10,
    }
    assert data_of("p2")["phone"] is None
    assert record.created_at is not None and record.updated_at == record.created_at
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        (now,) = cursor.fetchone()
    if connection.vendor == "postgresql":  # the transaction's time, on every record of the file
        assert record.created_at == data_time("p2") == now


def data_time(external_id: str) -> Any:
    return Record.objects.get(external_id=external_id).created_at


def test_columns_are_read_through_the_mapping_and_others_ignored(profile) -> None:
    mapping = {"profile_id": "ID", "email": "E-mail"}
    outcome = write_csv(
        "ID,E-mail,ignored\nx1,x@example.com,zzz\n", config_for(profile, mapping=mapping)
    )
    assert outcome.created == 1
    assert data_of("x1") == {"profile_id": "x1", "email": "x@example.com"}


def test_the_mapped_columns_of_a_file_a_hundred_thousand_columns_wide_are_found(profile) -> None:
    names = [f"extra{i}" for i in range(100_000)]
    names[60_000], names[99_999] = "email", "profile_id"
    values = [""] * len(names)
    values[60_000], values[99_999] = "w@example.com", "w1"
    outcome = write_csv(
        ",".join(names) + "\n" + ",".join(values) + "\n",
        config_for(profile, mapping={"profile_id": "profile_id", "email": "email"}),
    )
    assert outcome.created == 1
    assert data_of("w1") == {"profile_id": "w1", "email": "w@example.com"}


def test_a_numeric_identifier_becomes_text(profile) -> None:
    rows = [ParsedRow(1, {"profile_id": 42, "first_name": "Ada"})]
    write_file(rows, config_for(profile))
    assert data_of("42")["profile_id"] == "42"


@pytest.mark.django_db(transaction=True)
def test_updated_at_moves_and_created_at_stays(profile) -> None:
    """A record's times are those of the transactions that wrote it (one per file)."""
    seed(profile)
    before = Record.objects.get(external_id="p1")
    write_csv(HEADER + ADA, config_for(profile, token=2))
    after = Record.objects.get(external_id="p1")
    assert after.created_at == before.created_at and after.updated_at > before.updated_at


# --- Integration Types ----------------------------------------------------------------------


def test_insert_adds_new_records_and_skips_existing_ones(profile) -> None:
    seed(profile)
    changed_ada = ADA.replace("Ada", "Changed")
    outcome = write_csv(HEADER + changed_ada + GRACE, config_for(profile, "insert", token=2))
    assert counts(outcome) == (2, 1, 0, 0, 1, 0)
    assert data_of("p1")["first_name"] == "Ada"
    assert Record.objects.get(external_id="p1").last_file_id == 99
    assert data_of("p3")["first_name"] == "Grace"


def test_update_changes_existing_records_and_skips_new_ones(profile) -> None:
    seed(profile)
    changed_ada = ADA.replace("Ada", "Augusta")
    outcome = write_csv(HEADER + changed_ada + GRACE, config_for(profile, "update", token=2))
    assert counts(outcome) == (2, 0, 1, 0, 1, 0)
    assert data_of("p1")["first_name"] == "Augusta"
    assert ids(profile) == ["p1", "p2"]


def test_upsert_updates_matches_and_inserts_the_rest(profile) -> None:
    seed(profile)
    changed_alan = ALAN.replace("Alan", "A.")
    outcome = write_csv(HEADER + changed_alan + GRACE, config_for(profile, "upsert", token=2))
    assert counts(outcome) == (2, 1, 1, 0, 0, 0)
    assert data_of("p2")["first_name"] == "A."
    assert ids(profile) == ["p1", "p2", "p3"]


def test_upsert_replaces_every_mapped_field_and_keeps_unmapped_ones(profile) -> None:
    seed(profile)
    mapping = {"profile_id": "profile_id", "first_name": "first_name", "phone": "phone"}
    write_csv("profile_id,first_name\np1,Augusta\n", config_for(profile, token=2, mapping=mapping))
    data = data_of("p1")
    assert data["first_name"] == "Augusta"
    assert data["phone"] is None  # mapped, but the file has no such column
    assert data["last_name"] == "Lovelace" and data["loyalty_points"] == 10  # not mapped


def test_patch_touches_only_the_columns_in_the_file(profile) -> None:
    seed(profile)
    outcome = write_csv(
        "profile_id,email,phone\np1,new@example.com,\np3,grace@example.com,+1 555 0100\n",
        config_for(profile, "patch", token=2),
    )
    assert counts(outcome) == (2, 1, 1, 0, 0, 0)
    ada = data_of("p1")
    assert ada["email"] == "new@example.com" and ada["phone"] is None  # present, emptied
    assert ada["first_name"] == "Ada" and ada["loyalty_points"] == 10  # absent, kept
    assert data_of("p3") == {
        "profile_id": "p3",
        "email": "grace@example.com",
        "phone": "+1 555 0100",
    }


def test_patch_from_json_touches_each_objects_own_keys(profile) -> None:
    seed(profile)
    rows = [
        ParsedRow(1, {"profile_id": "p1", "first_name": "Augusta"}),
        ParsedRow(2, {"profile_id": "p2", "loyalty_points": 99}),
    ]
    write_file(rows, config_for(profile, "patch", token=2))
    assert data_of("p1")["first_name"] == "Augusta" and data_of("p1")["loyalty_points"] == 10
    assert data_of("p2")["first_name"] == "Alan" and data_of("p2")["loyalty_points"] == 99


def test_patch_cannot_create_a_record_without_its_required_fields() -> None:
    account = EntityType.objects.get(name="Account")
    write_csv("account_id,name,industry\na1,Acme,Tools\n", config_for(account, token=1))
    outcome = write_csv(
        "account_id,industry\na1,Rockets\na2,Boats\n",
        config_for(account, "patch", token=2, tolerance="1"),
    )
    assert counts(outcome)[:3] == (2, 0, 1)
    assert outcome.errors == [
        RowProblem(
            3,
            "account_id",
            "a new record needs the required field(s) name, which the file has no column for",
        )
    ]


def test_sync_upserts_and_deletes_what_the_file_does_not_hold(profile) -> None:
    seed(profile)
    account = EntityType.objects.get(name="Account")
    write_csv("account_id,name\na1,Acme\n", config_for(account, token=50))
    outcome = write_csv(HEADER + ALAN + GRACE, config_for(profile, "sync", token=2))
    assert counts(outcome) == (2, 1, 1, 1, 0, 0)
    assert ids(profile) == ["p2", "p3"]
    assert ids(account) == ["a1"]  # another entity is never touched


def test_sync_of_a_file_without_rows_deletes_nothing(profile) -> None:
    seed(profile)
    outcome = write_csv(HEADER, config_for(profile, "sync", token=2))
    assert counts(outcome) == (0, 0, 0, 0, 0, 0)
    assert ids(profile) == ["p1", "p2"]


def test_sync_of_a_file_of_only_bad_rows_deletes_nothing(profile) -> None:
    seed(profile)
    bad = "p9,Bad,Row,not-an-email,,,\n"
    outcome = write_csv(HEADER + bad, config_for(profile, "sync", token=2, tolerance="100%"))
    assert outcome.deleted == 0 and outcome.failed_rows == 1
    assert ids(profile) == ["p1", "p2"]


def test_sync_keeps_the_record_of_a_row_that_failed_validation(profile) -> None:
    seed(profile)
    bad_alan = ALAN.replace("alan@example.com", "not-an-email")
    config = config_for(profile, "sync", token=2, tolerance="1")
    outcome = write_csv(HEADER + bad_alan + GRACE, config)
    assert counts(outcome) == (2, 1, 0, 1, 0, 1)
    assert ids(profile) == ["p2", "p3"]  # p1 deleted; p2 kept though its row was invalid
    assert data_of("p2")["email"] == "alan@example.com"  # and left as it was


def test_sync_keeps_the_record_of_a_ragged_row(profile) -> None:
    seed(profile)
    ragged = "p2,Alan,Turing,alan@example.com,,1912-06-23,20,surplus\n"
    outcome = write_csv(
        HEADER + ragged + GRACE, config_for(profile, "sync", token=2, tolerance="1")
    )
    assert outcome.errors == [RowProblem(2, "", "expected 7 fields, found 8")]
    assert ids(profile) == ["p2", "p3"]


# --- the connector that wrote a record: Sync removes only its own ---------------------------


def rows_of(prefix: str, numbers: range, first_name: str = "First") -> str:
    return "".join(f"{prefix}{n},{first_name},Row,{prefix}{n}@example.com,,,{n}\n" for n in numbers)


def writers(entity: EntityType) -> dict[str, int | None]:
    return dict(
        Record.objects.filter(entity_type=entity).values_list("external_id", "connector_id")
    )


@pytest.mark.parametrize("integration_type", ["insert", "update", "upsert", "patch", "sync"])
def test_every_write_records_the_connector_that_wrote_it_last(profile, integration_type) -> None:
    seed(profile)  # p1 and p2, written by connector 1
    config = config_for(profile, integration_type, token=2, connector=7)
    write_csv(HEADER + ALAN + GRACE, config)
    expected = {
        "insert": {"p1": 1, "p2": 1, "p3": 7},  # p2 exists: skipped, still connector 1's
        "update": {"p1": 1, "p2": 7},
        "upsert": {"p1": 1, "p2": 7, "p3": 7},
        "patch": {"p1": 1, "p2": 7, "p3": 7},
        "sync": {"p1": 1, "p2": 7, "p3": 7},  # p1 is connector 1's: not connector 7's to remove
    }[integration_type]
    assert writers(profile) == expected


@pytest.mark.parametrize("integration_type", ["upsert", "sync"])
def test_records_copied_and_written_in_the_background_record_their_connector(
    profile, integration_type
) -> None:
    """On PostgreSQL: new records by COPY, then batches upserted by the background writer."""
    write_csv(HEADER + rows_of("n", range(300)), config_for(profile, connector=3), batch_size=100)
    assert set(writers(profile).values()) == {3}
    config = config_for(profile, integration_type, token=2, connector=4)
    write_csv(HEADER + rows_of("n", range(250, 550)), config, batch_size=100)
    # Sync too: the records connector 3 wrote are not connector 4's to remove.
    expected = {f"n{n}": 3 for n in range(250)} | {f"n{n}": 4 for n in range(250, 550)}
    assert writers(profile) == expected


def test_sync_removes_only_the_records_its_own_connector_wrote(profile) -> None:
    """The attack of issue 12: charlie's Sync connector with a one-row file must not remove the
    records alice's connector wrote."""
    alices, charlies = 1, 2
    write_csv(HEADER + ADA + ALAN, config_for(profile, token=10, connector=alices))
    write_csv(HEADER + GRACE, config_for(profile, "sync", token=11, connector=charlies))
    assert ids(profile) == ["p1", "p2", "p3"]
    outcome = write_csv(
        HEADER + "p4,Kat,Johnson,,,,\n", config_for(profile, "sync", token=12, connector=charlies)
    )
    assert outcome.deleted == 1  # p3, which charlie's connector wrote
    assert writers(profile) == {"p1": alices, "p2": alices, "p4": charlies}


def test_a_record_another_connector_wrote_since_is_no_longer_the_syncs_to_remove(profile) -> None:
    write_csv(HEADER + ADA + ALAN, config_for(profile, "sync", token=10, connector=1))
    write_csv(HEADER + ALAN, config_for(profile, token=11, connector=2))  # p2 is connector 2's now
    outcome = write_csv(HEADER + GRACE, config_for(profile, "sync", token=12, connector=1))
    assert outcome.deleted == 1
    assert writers(profile) == {"p2": 2, "p3": 1}


# --- Sync's deletion limit ------------------------------------------------------------------


def seed_thousand(entity: EntityType, connector: int = 1) -> None:
    write_csv(HEADER + rows_of("s", range(1000)), config_for(entity, token=90, connector=connector))


def test_sync_refuses_a_file_that_would_remove_more_than_its_limit(profile) -> None:
    seed_thousand(profile)
    config = config_for(profile, "sync", token=91, connector=1, delete_limit=10)
    outcome = write_csv_as_a_run_does(HEADER + rows_of("s", range(1), first_name="Changed"), config)
    assert outcome.failure == (
        "Sync would remove 999 of the 1,000 records this connector wrote (99.9%), more than "
        "its limit of 10%; nothing from this file was written"
    )
    assert outcome.wrote_records  # the caller's rollback undoes the file
    assert Record.objects.filter(entity_type=profile).count() == 1000
    assert data_of("s0")["first_name"] == "First"


def test_sync_within_its_limit_removes_what_the_file_does_not_hold(profile) -> None:
    seed_thousand(profile)
    config = config_for(profile, "sync", token=91, connector=1, delete_limit=10)
    outcome = write_csv(HEADER + rows_of("s", range(100, 1000)), config)  # removes exactly 10%
    assert (outcome.updated, outcome.deleted) == (900, 100)
    assert Record.objects.filter(entity_type=profile).count() == 900


def test_one_record_over_the_limit_is_refused(profile) -> None:
    seed_thousand(profile)
    config = config_for(profile, "sync", token=91, connector=1, delete_limit=10)
    outcome = write_csv_as_a_run_does(HEADER + rows_of("s", range(101, 1000)), config)
    assert re.search(r"remove 101 of the 1,000 .* \(10.1%\)", outcome.failure or "")
    assert Record.objects.filter(entity_type=profile).count() == 1000


def test_a_limit_of_100_percent_lets_sync_remove_everything_else(profile) -> None:
    seed_thousand(profile)
    config = config_for(profile, "sync", token=91, connector=1, delete_limit=100)
    outcome = write_csv(HEADER + rows_of("s", range(1)), config)
    assert outcome.deleted == 999
    assert ids(profile) == ["s0"]


def test_the_limit_counts_only_the_records_of_the_syncing_connector(profile) -> None:
    seed_thousand(profile, connector=1)
    write_csv(HEADER + rows_of("t", range(10)), config_for(profile, token=92, connector=2))
    within = config_for(profile, "sync", token=93, connector=2, delete_limit=10)
    assert write_csv(HEADER + rows_of("t", range(1, 10)), within).deleted == 1
    beyond = config_for(profile, "sync", token=94, connector=2, delete_limit=10)
    outcome = write_csv_as_a_run_does(HEADER + rows_of("t", range(3, 10)), beyond)
    assert "remove 2 of the 9 records" in (outcome.failure or "")
    assert Record.objects.filter(entity_type=profile).count() == 1009


def test_a_file_of_many_batches_over_the_limit_is_undone_whole(profile) -> None:
    """On PostgreSQL its batches were written by the background writer before the deletion."""
    seed_thousand(profile)
    config = config_for(profile, "sync", token=91, connector=1, delete_limit=50)
    rows = HEADER + rows_of("s", range(300), first_name="Changed") + rows_of("new", range(5))
    outcome = write_csv_as_a_run_does(rows, config, batch_size=100)
    assert re.search(r"remove 700 of the 1,000 records .* \(70%\)", outcome.failure or "")
    assert Record.objects.filter(entity_type=profile).count() == 1000
    assert data_of("s5")["first_name"] == "First"


# --- duplicates within a file ---------------------------------------------------------------


def test_a_repeated_identifier_in_a_batch_names_its_first_line(profile) -> None:
    config = config_for(profile, token=2, tolerance="5")
    outcome = write_csv(HEADER + ADA + ALAN + ADA.replace("Ada", "Again"), config)
    assert counts(outcome) == (3, 2, 0, 0, 0, 1)
    assert outcome.errors == [
        RowProblem(4, "profile_id", "duplicate unique identifier 'p1' (first on line 2)")
    ]
    assert data_of("p1")["first_name"] == "Ada"


def test_a_repeated_identifier_across_batches_is_found(profile) -> None:
    config = config_for(profile, token=2, tolerance="5")
    rows = HEADER + ADA + ALAN + GRACE + ADA.replace("Ada", "Again") + ALAN
    outcome = write_csv(rows, config, batch_size=2)
    assert counts(outcome) == (5, 3, 0, 0, 0, 2)
    assert [(e.line, e.reason) for e in outcome.errors] == [
        (5, "duplicate unique identifier 'p1' (it appears earlier in the file)"),
        (6, "duplicate unique identifier 'p2' (it appears earlier in the file)"),
    ]
    assert data_of("p1")["first_name"] == "Ada"


@pytest.mark.parametrize("integration_type", ["insert", "update", "upsert", "patch", "sync"])
def test_duplicates_are_found_by_every_integration_type(profile, integration_type) -> None:
    seed(profile)
    config = config_for(profile, integration_type, token=2, tolerance="5")
    outcome = write_csv(HEADER + GRACE + ALAN + GRACE + ALAN, config, batch_size=2)
    if integration_type == "insert":
        assert (outcome.created, outcome.skipped, outcome.failed_rows) == (1, 2, 1)
    elif integration_type == "update":
        assert (outcome.updated, outcome.skipped, outcome.failed_rows) == (1, 2, 1)
    else:
        assert (outcome.created, outcome.updated, outcome.failed_rows) == (1, 1, 2)


def test_a_later_file_may_repeat_an_identifier(profile) -> None:
    write_csv(HEADER + ADA, config_for(profile, token=1))
    outcome = write_csv(HEADER + ADA, config_for(profile, token=2))
    assert counts(outcome) == (1, 0, 1, 0, 0, 0)


# --- row errors -----------------------------------------------------------------------------


def test_row_errors_name_line_column_and_reason(profile) -> None:
    rows = HEADER + ADA + "p2,Alan,Turing,not-an-email,,1912-13-45,lots\n" + ",Nobody,,,,,\n"
    outcome = write_csv(rows, config_for(profile, tolerance="5"))
    assert counts(outcome) == (3, 1, 0, 0, 0, 2)
    assert outcome.errors == [
        RowProblem(3, "email", "'not-an-email' is not an email address"),
        RowProblem(3, "birth_date", "'1912-13-45' is not a date in the form YYYY-MM-DD"),
        RowProblem(3, "loyalty_points", "'lots' is not a whole number"),
        RowProblem(4, "profile_id", "is required but empty"),
    ]


def test_a_renamed_column_names_its_field_in_the_reason(profile) -> None:
    mapping = {"profile_id": "id", "email": "Mail"}
    outcome = write_csv("id,Mail\np1,nope\n", config_for(profile, tolerance="1", mapping=mapping))
    assert outcome.errors == [RowProblem(2, "Mail", "'nope' is not an email address (field email)")]


def test_bad_rows_from_the_parser_are_counted_with_their_reason(profile) -> None:
    outcome = write_csv(HEADER + ADA + "p2,Alan\n", config_for(profile, tolerance="1"))
    assert counts(outcome) == (2, 1, 0, 0, 0, 1)
    assert outcome.errors == [RowProblem(3, "", "expected 7 fields, found 2")]


def test_a_nested_json_value_is_a_row_error(profile) -> None:
    rows = [
        ParsedRow(1, {"profile_id": "p1", "first_name": {"given": "Ada"}}),
        ParsedRow(2, {"profile_id": "p2", "first_name": "Alan"}),
    ]
    outcome = write_file(rows, config_for(profile, tolerance="1"))
    assert outcome.errors == [RowProblem(1, "first_name", "a dict is not a single value")]
    assert ids(profile) == ["p2"]


def test_a_json_object_without_the_identifier_is_a_row_error(profile) -> None:
    rows = [ParsedRow(1, {"profile_id": "p1"}), ParsedRow(2, {"email": "x@example.com"})]
    outcome = write_file(rows, config_for(profile, tolerance="1"))
    assert outcome.errors == [RowProblem(2, "profile_id", "is required but missing")]


def test_values_the_database_cannot_store_are_row_errors(profile) -> None:
    rows = [
        ParsedRow(1, {"profile_id": "p1", "first_name": "a\x00b"}),
        ParsedRow(2, {"profile_id": "p2", "first_name": "\ud800"}),
        BadRow(3, "invalid JSON: Expecting value (column 8)"),
    ]
    outcome = write_file(rows, config_for(profile, tolerance="10"))
    assert outcome.errors == [
        RowProblem(1, "first_name", "contains a NUL character, which cannot be stored"),
        RowProblem(2, "first_name", "contains an invalid Unicode character"),
        RowProblem(3, "", "invalid JSON: Expecting value (column 8)"),
    ]
    assert Record.objects.count() == 0


def test_an_identifier_longer_than_a_record_holds_is_a_row_error() -> None:
    entity = EntityType.objects.create(name="Ticket")
    EntityField.objects.create(entity_type=entity, name="code", is_unique_identifier=True)
    rows = [ParsedRow(1, {"code": "x" * 256}), ParsedRow(2, {"code": "x" * 255})]
    outcome = write_file(rows, config_for(entity, tolerance="1"))
    assert outcome.errors == [
        RowProblem(1, "code", "is 256 characters long; a unique identifier may have at most 255")
    ]
    assert outcome.created == 1


def test_at_most_the_kept_number_of_errors_is_held(profile) -> None:
    bad = "".join(f"p{n},,,bad,,,\n" for n in range(FileOutcome.MAX_ERRORS_KEPT + 50))
    outcome = write_csv(HEADER + bad, config_for(profile, tolerance="100%"))
    assert outcome.failed_rows == FileOutcome.MAX_ERRORS_KEPT + 50
    assert len(outcome.errors) == FileOutcome.MAX_ERRORS_KEPT


# --- failing a file -------------------------------------------------------------------------


def test_a_missing_required_column_fails_the_file(profile) -> None:
    mapping = {"profile_id": "id", "email": "email"}
    outcome = write_csv("email\na@example.com\n", config_for(profile, mapping=mapping))
    assert outcome.failure == (
        "the file has no column 'id', which is mapped to the required field 'profile_id'"
    )


def test_an_unmapped_identifier_fails_the_file(profile) -> None:
    outcome = write_csv(HEADER + ADA, config_for(profile, mapping={"email": "email"}))
    assert "'profile_id' is not mapped to a column" in (outcome.failure or "")


def test_too_many_bad_rows_fail_the_file_and_the_caller_rolls_back(profile) -> None:
    bad = "p3,Grace,Hopper,nope,,,\np4,Bad,Date,,,2020-02-30,\n"
    outcome = write_csv_as_a_run_does(HEADER + ADA + ALAN + bad, config_for(profile, tolerance="1"))
    assert outcome.failure == "2 of 4 rows are invalid; the connector allows 1"
    assert [(e.line, e.column) for e in outcome.errors] == [(4, "email"), (5, "birth_date")]
    assert Record.objects.count() == 0


def test_count_tolerance_allows_that_many_bad_rows(profile) -> None:
    bad = "p3,Grace,Hopper,nope,,,\n"
    outcome = write_csv(HEADER + ADA + ALAN + bad, config_for(profile, tolerance="1"))
    assert counts(outcome) == (3, 2, 0, 0, 0, 1)


def test_percent_tolerance_compares_with_all_rows(profile) -> None:
    good = [f"g{n},First,Last,g{n}@example.com,,,\n" for n in range(9)]
    bad = "b1,First,Last,nope,,,\n"
    outcome = write_csv(HEADER + "".join(good) + bad, config_for(profile, tolerance="10%"))
    assert (outcome.created, outcome.failed_rows) == (9, 1)
    outcome = write_csv_as_a_run_does(
        HEADER + "".join(good[1:]) + bad, config_for(profile, token=2, tolerance="10%")
    )
    assert outcome.failure == "1 of 9 rows is invalid; the connector allows 10%"


def test_with_no_tolerance_one_bad_row_fails_the_file(profile) -> None:
    outcome = write_csv_as_a_run_does(HEADER + ADA + "p2,,,nope,,,\n", config_for(profile))
    assert outcome.failure == "1 of 2 rows is invalid; the connector allows none"
    assert Record.objects.count() == 0


def test_a_hopeless_file_stops_being_read_once_the_report_is_full(profile) -> None:
    limit = FileOutcome.MAX_ERRORS_KEPT

    def rows() -> Any:
        for line in range(2, 10**9):
            yield ParsedRow(line, {"profile_id": f"p{line}", "email": "nope"})

    outcome = write_file(rows(), config_for(profile, tolerance="3"))
    assert outcome.failure == (
        f"at least {limit:,} of the first {limit:,} rows are invalid; the connector allows 3"
    )


def test_a_file_that_breaks_midway_keeps_the_errors_found_so_far(profile) -> None:
    def rows() -> Any:
        yield ParsedRow(2, {"profile_id": "p1", "email": "nope"})
        raise FileFailed("unterminated quoted field in the row starting on line 3")

    outcome = write_file(rows(), config_for(profile, tolerance="5"))
    assert outcome.failure == "unterminated quoted field in the row starting on line 3"
    assert outcome.errors == [RowProblem(2, "email", "'nope' is not an email address")]


# --- cost -----------------------------------------------------------------------------------


@pytest.mark.parametrize("integration_type", ["insert", "update", "upsert", "patch", "sync"])
def test_queries_per_batch_are_bounded(
    profile, integration_type, django_assert_max_num_queries
) -> None:
    old = "".join(f"p{n},Old,Row,p{n}@example.com,,,{n}\n" for n in range(0, 1000, 2))
    write_csv(HEADER + old, config_for(profile, token=1))
    new = "".join(f"p{n},New,Row,p{n}@example.com,,,{n}\n" for n in range(1000))
    bad = "x1,Bad,Row,nope,,,\n"
    config = config_for(profile, integration_type, token=2, tolerance="1")
    # At most five statements per batch: look up, savepoint, COPY of the new records, release,
    # upsert of the existing ones (PostgreSQL); three on SQLite. Sync also marks the bad row's
    # record as seen and deletes what the file did not name; once per file, the writer locks
    # the entity type, and PostgreSQL's Upsert and Sync undo the COPY tried without a lookup
    # that met existing records (savepoint, the COPY, rollback).
    with django_assert_max_num_queries(10 * 5 + 2 + 1 + 3):
        outcome = write_csv(HEADER + new + bad, config, batch_size=100)
    assert outcome.created + outcome.updated + outcome.skipped + outcome.failed_rows == 1001
    if integration_type in {"upsert", "patch", "sync"}:
        assert (outcome.created, outcome.updated) == (500, 500)
        assert data_of("p998")["first_name"] == "New"


# --- plain rows in blocks and odd rows among them -----------------------------------------


def test_a_block_of_plain_rows_and_odd_ones_reports_like_row_by_row(profile) -> None:
    """Blank, ragged, invalid and repeated rows among plain ones, in files of several batches:
    the same records and the same report whichever way the rows are read."""
    lines = []
    for n in range(60):
        lines.append(f"q{n},First{n},Last,q{n}@example.com,,,{n}")
        if n % 7 == 0:
            lines.append("")
        if n % 11 == 0:
            lines.append(f"q{n},Again,Last,,,,")  # a repeated identifier
        if n % 13 == 0:
            lines.append(f"r{n},Bad,Row,not-an-email,,,")
        if n % 17 == 0:
            lines.append(f"s{n},Ragged")
        if n % 19 == 0:
            lines.append(f'"t{n}",Quoted,"Last, Name",,,,')
        if n % 23 == 0:  # unquoted values that JSON or COPY would need escaped, or not ASCII
            lines.append(f"u{n},back\\slash,tab\there,,,,")
            lines.append(f"v{n},Zoë,Ünal,zoe@example.com,,,")
            lines.append(f"w{n}\\x,bell\x07,nul\x00,,,,")
    text = HEADER + "\n".join(lines) + "\n"
    results = []
    for blocks in (True, False):
        READ_IN_BLOCKS["on"] = blocks
        config = config_for(profile, "sync", token=10 + blocks, tolerance="100%")
        with transaction.atomic():
            outcome = write_csv(text, config, batch_size=8)
            stored = sorted(Record.objects.values_list("external_id", "data"))
            transaction.set_rollback(True)
        results.append((counts(outcome), outcome.errors, stored))
    assert results[0] == results[1]
    assert results[0][0][0] > 60 and results[0][1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's alone")
def test_records_inserted_by_someone_else_meanwhile_are_upserted_not_lost(
    profile, monkeypatch
) -> None:
    """The background writer COPYs the records it did not find; if another transaction inserted
    one of them in between, the COPY is undone (savepoint) and the batch is upserted instead."""
    from ingest.writing.postgres import PostgresStatements

    seed(profile)  # p1 and p2 exist
    monkeypatch.setattr(PostgresStatements, "existing", lambda self, ids, with_data: {})
    outcome = write_csv(HEADER + ADA + ALAN + GRACE, config_for(profile, token=2), batch_size=1)
    assert (outcome.created, outcome.updated, outcome.failed_rows) == (1, 2, 0)
    assert ids(profile) == ["p1", "p2", "p3"]
    assert data_of("p3")["first_name"] == "Grace"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's alone")
def test_text_that_means_something_to_copy_is_stored_unchanged(profile) -> None:
    r"""COPY's text format gives \, tab, newline, carriage return and \N meanings of their own;
    values and identifiers holding them are stored exactly as the file has them."""
    awkward = 'back\\slash \\N tab\there "quoted" ünïcødé 🙂'
    quoted = awkward.replace('"', '""')
    text = (
        HEADER
        + f'"p\\1\tx",Ada,"{quoted}",ada@example.com,,,1\n'
        + 'p2,"line\nbreak\r\nand\rreturn",Turing,,,,2\n'
        + "p3,Grace,Hopper,,,,3\n"
    )
    outcome = write_csv(text, config_for(profile), batch_size=1)  # batches go through COPY
    assert (outcome.created, outcome.failed_rows) == (3, 0)
    assert ids(profile) == ["p2", "p3", "p\\1\tx"]
    assert data_of("p\\1\tx")["last_name"] == awkward
    assert data_of("p2")["first_name"] == "line\nbreak\r\nand\rreturn"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's upsert path")
@pytest.mark.parametrize("integration_type", ["upsert", "sync"])
def test_a_file_of_one_batch_is_written_by_one_statement(profile, integration_type) -> None:
    """Most small files: the entity type's lock, then one upsert (no look-up first); Sync then
    deletes what the file did not name."""
    from django.test.utils import CaptureQueriesContext

    seed(profile)
    config = config_for(profile, integration_type, token=2)
    with CaptureQueriesContext(connection) as queries:
        outcome = write_csv(HEADER + ADA + GRACE, config)
    assert (outcome.created, outcome.updated) == (1, 1)
    statements = [q["sql"].split()[0] for q in queries]
    expected = ["SELECT", "INSERT"] + (["DELETE"] if integration_type == "sync" else [])
    assert statements == expected, queries
    assert "FOR KEY SHARE" in queries[0]["sql"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's alone")
@pytest.mark.parametrize("integration_type", ["upsert", "sync"])
def test_a_load_of_new_records_looks_nothing_up(profile, integration_type) -> None:
    """New records are COPYd without looking their identifiers up; once a COPY meets a record
    that exists, it is undone and that batch and the rest are looked up and upserted."""
    from django.test.utils import CaptureQueriesContext

    new = "".join(f"n{n},New,Row,n{n}@example.com,,,{n}\n" for n in range(300))
    with CaptureQueriesContext(connection) as queries:
        outcome = write_csv(HEADER + new, config_for(profile, integration_type), batch_size=100)
    assert (outcome.created, outcome.updated) == (300, 0)
    assert not [q for q in queries if q["sql"].startswith("SELECT") and "external_id" in q["sql"]]

    mixed = "".join(f"n{n},Again,Row,n{n}@example.com,,,{n}\n" for n in range(250, 550))
    config = config_for(profile, integration_type, token=2)
    outcome = write_csv(HEADER + mixed, config, batch_size=100)
    assert (outcome.created, outcome.updated, outcome.failed_rows) == (250, 50, 0)
    assert data_of("n260")["first_name"] == data_of("n540")["first_name"] == "Again"
    if integration_type == "upsert":
        assert data_of("n10")["first_name"] == "New"
        assert Record.objects.filter(entity_type=profile).count() == 550
    else:  # Sync mirrors the second file
        assert ids(profile) == sorted(f"n{n}" for n in range(250, 550))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's alone")
def test_every_statement_is_in_djangos_query_log_a_copy_that_failed_too(profile) -> None:
    """The writer's statements, COPY included and from its writer thread too, go through
    Django's cursor: DEBUG's connection.queries and CaptureQueriesContext see each one sent."""
    from django.test.utils import CaptureQueriesContext

    seed(profile)  # p1 and p2 exist: the first COPY, tried without a lookup, fails
    config = config_for(profile, token=2)
    text = HEADER + ADA + GRACE + rows_of("n", range(3))
    with CaptureQueriesContext(connection) as queries:
        outcome = write_csv(text, config, batch_size=2)
    assert (outcome.created, outcome.updated) == (4, 1)
    statements = [q["sql"].split()[0] for q in queries]
    assert statements[:5] == ["SELECT", "SAVEPOINT", "COPY", "ROLLBACK", "SELECT"], queries


# --- the entity type: locked while a file is written -----------------------------------------


def test_a_file_for_an_entity_that_no_longer_exists_fails_saying_so(profile) -> None:
    config = config_for(profile)
    EntityType.objects.filter(pk=profile.pk).delete()
    outcome = write_csv(HEADER + ADA, config)
    assert re.fullmatch(r"the entity \(id \d+\) .* no longer exists", outcome.failure or "")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_deleting_an_entity_waits_for_a_file_being_written_then_deletes_its_records() -> None:
    """Records have no foreign key constraint; the writer's lock on the entity type and the lock
    deletion takes first keep every record pointing at an entity type that exists."""
    import threading

    from django.db import connections

    entity = EntityType.objects.create(name="Doomed", category="custom")
    EntityField.objects.create(entity_type=entity, name="code", is_unique_identifier=True)
    config = config_for(entity)
    written, finish, deleted = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with transaction.atomic():
                rows = iter_rows(io.BytesIO(b"code\nc1\nc2\nc3\n"), file_format="csv")
                assert write_file(rows, config).created == 3
                written.set()
                finish.wait(30)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            written.set()
        finally:
            connections.close_all()

    def delete() -> None:
        try:
            EntityType.objects.filter(pk=entity.pk).delete()
            deleted.set()
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(30) and not failures
    deleter = threading.Thread(target=delete)
    deleter.start()
    waiting = wait_for_a_lock_wait()
    blocked = not deleted.is_set()
    finish.set()
    writer.join(30)
    deleter.join(30)
    assert not failures, failures
    assert waiting and blocked, "the deletion must wait for the file being written"
    assert not EntityType.objects.filter(pk=entity.pk).exists()
    assert not Record.objects.filter(entity_type_id=entity.pk).exists()  # nothing orphaned


def wait_for_a_lock_wait(timeout: float = 30) -> bool:
    """Whether some other backend comes to wait for a lock within `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False
