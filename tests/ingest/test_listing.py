"""Listing a run's source against moto: each version of a file is claimed once (a second run
takes nothing again; a retained failure only once its content changes), the files a crashed run
left are taken by the next, and a listing that fails, or a run whose owner lost access before it
started, ends the run saying why."""

from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from entities.models import Record
from ingest import ingestion, inline, listing, runs
from ingest.models import FileState, Run, RunStatus, SourceFile
from ingest.s3.client import client_for
from tests.support.factories import (
    BAD_CSV,
    GOOD_CSV,
    REFUSED,
    keys,
    make_connector,
    put,
    revoke,
    run_now,
)


def test_a_second_run_ingests_nothing_again(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    second = run_now(connector)
    assert second.files_seen == 0 and second.records_created == 0
    assert second.status == RunStatus.SUCCEEDED
    assert SourceFile.objects.count() == 2


def test_a_retained_failed_file_is_retried_only_when_its_content_changes(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, failed_path="")
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    assert run_now(connector).files_seen == 0
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)  # same content uploaded again
    assert run_now(connector).files_seen == 0
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV.replace("not-an-email", "b@example.com"))
    fixed = run_now(connector)
    assert fixed.files_succeeded == 1
    assert keys(s3_client, bucket) == ["done/bad.csv"]


def test_a_crash_between_commit_and_move_only_moves_next_time(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    crashed = runs.start_run(connector, trigger="manual")
    client = client_for(connector)
    config = ingestion.ingest_config(connector, file_id=0)
    # The worker commits the file's records, then dies before moving it.
    listing.execute_run(
        crashed.pk,
        dispatch=lambda run_id, ids: [
            ingestion.ingest_file(client, i, connector=connector, config=config) for i in ids
        ],
    )
    assert keys(s3_client, bucket) == ["incoming/good.csv"]
    assert SourceFile.objects.get().state == FileState.INGESTED

    retry = run_now(connector)

    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert retry.records_created == 0 and Record.objects.count() == 2
    assert SourceFile.objects.get().state == FileState.MOVED


def test_a_crash_before_commit_ingests_on_the_next_run(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    crashed = runs.start_run(connector, trigger="manual")
    listing.execute_run(crashed.pk, dispatch=lambda run_id, ids: None)  # worker never ran
    assert SourceFile.objects.get().state == FileState.CLAIMED

    retry = run_now(connector)

    assert retry.files_succeeded == 1 and Record.objects.count() == 2
    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert Run.objects.get(pk=crashed.pk).finished_at is not None


def test_a_listing_error_fails_the_run_with_a_reason(connector, s3_client) -> None:
    connector.s3.bucket = "no-such-bucket-anywhere"
    connector.s3.save()
    run = run_now(connector)
    assert run.status == RunStatus.FAILED
    assert "bucket does not exist" in run.error


def test_an_unexpected_error_while_listing_fails_the_run_with_the_reason(
    connector, bucket, s3_client, monkeypatch
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)

    def broken_listing(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("a bug in the listing")
        yield  # a generator, as the real one is

    monkeypatch.setattr(listing, "list_pages", broken_listing)

    with pytest.raises(CommandError, match="a bug in the listing"):
        call_command("run_connector", "Profiles")

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error == (
        "An unexpected error stopped the listing: ValueError: a bug in the listing. The files "
        "it claimed are taken by the next run."
    )
    monkeypatch.undo()
    assert run_now(connector).files_succeeded == 1


def test_a_queued_run_fails_if_access_was_revoked_before_it_started(
    alice, connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")
    revoke(alice)
    run = inline.run_inline(run)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(REFUSED) and run.error.endswith("Nothing was ingested.")
    assert not Record.objects.exists() and not SourceFile.objects.exists()
    assert keys(s3_client, bucket) == ["incoming/good.csv"]
