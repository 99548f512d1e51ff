"""The write plan: which field each file column fills (through the mapping, other columns
ignored, however wide the file), and a file failed for a required column it lacks or an
identifier not mapped."""

import pytest

from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, HEADER, data_of, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


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


def test_a_missing_required_column_fails_the_file(profile) -> None:
    mapping = {"profile_id": "id", "email": "email"}
    outcome = write_csv("email\na@example.com\n", config_for(profile, mapping=mapping))
    assert outcome.failure == (
        "the file has no column 'id', which is mapped to the required field 'profile_id'"
    )


def test_an_unmapped_identifier_fails_the_file(profile) -> None:
    outcome = write_csv(HEADER + ADA, config_for(profile, mapping={"email": "email"}))
    assert "'profile_id' is not mapped to a column" in (outcome.failure or "")
