"""The exact path of a row: each problem named by its line, its column (and field, when the
column is renamed) and a reason; the identifier as text, present, and short enough for a
record."""

import pytest

from entities.models import EntityField, EntityType
from ingest.types import ParsedRow, RowProblem
from ingest.writing import write_file
from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, HEADER, counts, data_of, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


def test_a_numeric_identifier_becomes_text(profile) -> None:
    rows = [ParsedRow(1, {"profile_id": 42, "first_name": "Ada"})]
    write_file(rows, config_for(profile))
    assert data_of("42")["profile_id"] == "42"


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


def test_a_json_object_without_the_identifier_is_a_row_error(profile) -> None:
    rows = [ParsedRow(1, {"profile_id": "p1"}), ParsedRow(2, {"email": "x@example.com"})]
    outcome = write_file(rows, config_for(profile, tolerance="1"))
    assert outcome.errors == [RowProblem(2, "profile_id", "is required but missing")]


def test_an_identifier_longer_than_a_record_holds_is_a_row_error() -> None:
    entity = EntityType.objects.create(name="Ticket")
    EntityField.objects.create(entity_type=entity, name="code", is_unique_identifier=True)
    rows = [ParsedRow(1, {"code": "x" * 256}), ParsedRow(2, {"code": "x" * 255})]
    outcome = write_file(rows, config_for(entity, tolerance="1"))
    assert outcome.errors == [
        RowProblem(1, "code", "is 256 characters long; a unique identifier may have at most 255")
    ]
    assert outcome.created == 1
