"""The writer's statements, on either database: what a record holds (typed data by field name,
the file's token, the connector that wrote it last, the times of the transactions that wrote
it), Sync deleting only what its own connector wrote, and a file whose entity type is gone
failing saying so."""

import re

import pytest
from django.db import connection

from entities.models import EntityType, Record
from tests.support.ingest_configs import config_for
from tests.support.writing import (
    ADA,
    ALAN,
    GRACE,
    HEADER,
    counts,
    data_of,
    data_time,
    ids,
    rows_of,
    seed,
    write_csv,
    writers,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


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


@pytest.mark.django_db(transaction=True)
def test_updated_at_moves_and_created_at_stays(profile) -> None:
    """A record's times are those of the transactions that wrote it (one per file)."""
    seed(profile)
    before = Record.objects.get(external_id="p1")
    write_csv(HEADER + ADA, config_for(profile, token=2))
    after = Record.objects.get(external_id="p1")
    assert after.created_at == before.created_at and after.updated_at > before.updated_at


# --- the connector that wrote a record: Sync removes only its own ---------------------------


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


# --- the entity type: locked while a file is written -----------------------------------------


def test_a_file_for_an_entity_that_no_longer_exists_fails_saying_so(profile) -> None:
    config = config_for(profile)
    EntityType.objects.filter(pk=profile.pk).delete()
    outcome = write_csv(HEADER + ADA, config)
    assert re.fullmatch(r"the entity \(id \d+\) .* no longer exists", outcome.failure or "")
