"""The exact cleaner, as rows of a file meet it: a nested JSON value is not a single value, and
text the database cannot store (a NUL, a lone surrogate) is a row error."""

import pytest

from entities.models import Record
from ingest.parsers import BadRow
from ingest.types import ParsedRow, RowProblem
from ingest.writing import write_file
from tests.support.ingest_configs import config_for
from tests.support.writing import ids

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


def test_a_nested_json_value_is_a_row_error(profile) -> None:
    rows = [
        ParsedRow(1, {"profile_id": "p1", "first_name": {"given": "Ada"}}),
        ParsedRow(2, {"profile_id": "p2", "first_name": "Alan"}),
    ]
    outcome = write_file(rows, config_for(profile, tolerance="1"))
    assert outcome.errors == [RowProblem(1, "first_name", "a dict is not a single value")]
    assert ids(profile) == ["p2"]


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
