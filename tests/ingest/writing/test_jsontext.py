"""The text records travel in: values and identifiers holding what COPY's text format gives a
meaning of its own are stored exactly as the file has them."""

import pytest
from django.db import connection

from tests.support.ingest_configs import config_for
from tests.support.writing import HEADER, data_of, ids, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


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
