"""A batch: what each row becomes by the Integration Type (created, merged, skipped, kept for
Sync, or a duplicate of a row before it in the file), and the statements that write it: a
bounded number a batch; on PostgreSQL one upsert for a file's only batch, and new records COPYd
without a lookup."""

import pytest
from django.db import connection

from entities.models import EntityType, Record
from ingest.types import ParsedRow, RowProblem
from ingest.writing import write_file
from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, ALAN, GRACE, HEADER, counts, data_of, ids, seed, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


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
