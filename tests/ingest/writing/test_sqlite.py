"""SQLite's statements: a batch is sent in parts of SQLITE_ROWS_PER_STATEMENT rows, so that no
statement passes SQLite's limit on parameters (32,766 unless a build raises it) however large
the batch."""

import sqlite3

import pytest
from django.db import connection
from django.utils import timezone

from entities.models import Record
from ingest.writing.sqlite import SQLITE_ROWS_PER_STATEMENT, SqliteStatements
from ingest.writing.statements import Write
from tests.support.ingest_configs import config_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's statements"),
]

SQLITE_DEFAULT_VARIABLES = 32_766  # Debian's build allows 250,000: held to the default here
ROWS = 7 * SQLITE_ROWS_PER_STATEMENT  # more identifiers than one statement may hold


def test_a_batch_past_sqlites_limit_on_parameters_is_written_in_parts(profile) -> None:
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_VARIABLES)
    try:
        first = SqliteStatements(config_for(profile, token=1), timezone.now())
        new = [Write(f"r{n}", {"profile_id": f"r{n}"}, is_new=True) for n in range(ROWS)]
        assert first.insert(new) == ROWS

        second = SqliteStatements(config_for(profile, token=2), timezone.now())
        ids = [write.external_id for write in new]
        assert len(second.existing(set(ids), with_data=True)) == ROWS
        changed = [Write(i, {"profile_id": i, "first_name": "New"}, is_new=False) for i in ids]
        assert second.update(changed) == ROWS
        second.mark_seen(ids)
        assert second.delete_unseen() == 0
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, previous)
    assert Record.objects.filter(entity_type=profile, data__first_name="New").count() == ROWS
