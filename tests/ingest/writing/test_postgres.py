"""PostgreSQL's statements: a COPY that meets a record another transaction inserted meanwhile is
undone and its batch upserted, and every statement, COPY included and from the writer thread
too, goes through Django's cursor."""

import pytest
from django.db import connection

from tests.support.ingest_configs import config_for
from tests.support.writing import ADA, ALAN, GRACE, HEADER, data_of, ids, rows_of, seed, write_csv

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


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
