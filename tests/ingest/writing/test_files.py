"""write_file: a file's rows counted and batched (plain rows in blocks read as rows one by one
are), its tolerance of bad rows, and Sync's deletion limit; a file that fails as a whole says
why, and the caller rolls back what it wrote.

Each file is written with its own token (the ledger entry id), as the orchestrator does.
"""

import re
from typing import Any

import pytest
from django.db import transaction

from entities.models import Record
from ingest.types import FileFailed, FileOutcome, ParsedRow, RowProblem
from ingest.writing import write_file
from tests.support.ingest_configs import config_for
from tests.support.writing import (
    ADA,
    ALAN,
    HEADER,
    READ_IN_BLOCKS,
    counts,
    data_of,
    ids,
    rows_of,
    seed,
    seed_thousand,
    write_csv,
    write_csv_as_a_run_does,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("csv_reading")]


# --- Sync deletes only after a file with a good row ------------------------------------------


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


# --- Sync's deletion limit ------------------------------------------------------------------


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


# --- bad rows, counted --------------------------------------------------------------------


def test_bad_rows_from_the_parser_are_counted_with_their_reason(profile) -> None:
    outcome = write_csv(HEADER + ADA + "p2,Alan\n", config_for(profile, tolerance="1"))
    assert counts(outcome) == (2, 1, 0, 0, 0, 1)
    assert outcome.errors == [RowProblem(3, "", "expected 7 fields, found 2")]


def test_at_most_the_kept_number_of_errors_is_held(profile) -> None:
    bad = "".join(f"p{n},,,bad,,,\n" for n in range(FileOutcome.MAX_ERRORS_KEPT + 50))
    outcome = write_csv(HEADER + bad, config_for(profile, tolerance="100%"))
    assert outcome.failed_rows == FileOutcome.MAX_ERRORS_KEPT + 50
    assert len(outcome.errors) == FileOutcome.MAX_ERRORS_KEPT


# --- failing a file -------------------------------------------------------------------------


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
