"""Reading a claimed file: only the version claimed, whether the endpoint honours If-Match or
not; a file replaced after it was listed is left for the next run, which ingests its new
version."""

from entities.models import Record
from ingest import inline, listing, runs
from ingest.models import FileState, SourceFile
from tests.support.factories import GOOD_CSV, V1, V2, body, keys, make_connector, put, run_now


def test_a_file_replaced_after_listing_is_left_for_the_next_run(
    connector, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")

    def replace_then_process(run_id: int, ids: list[int]) -> None:
        put(s3_client, bucket, "incoming/good.csv", GOOD_CSV + "p9,New,Row,new@example.com\n")
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=replace_then_process)
    assert SourceFile.objects.get().state == FileState.SUPERSEDED
    assert Record.objects.count() == 0
    assert run_now(connector).records_created == 3
    assert keys(s3_client, bucket) == ["done/good.csv"]


def test_a_file_replaced_before_it_is_read_where_if_match_is_ignored_is_left_for_next_run(
    alice, bucket, s3_client, proxied
) -> None:
    """Before: the new version was read and ingested under the old version's ledger entry;
    an endpoint that honours the delete's ETag then left it, and it was ingested again."""
    proxied.drop_headers = {"if-match"}
    proxied.honour_conditions = True  # deletes by ETag, as AWS S3 does
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "incoming/f.csv", V1)
    run = runs.start_run(connector, trigger="manual")

    def replace_then_process(run_id: int, ids: list[int]) -> None:
        put(s3_client, bucket, "incoming/f.csv", V2)
        inline.process_batch(run_id, ids)

    listing.execute_run(run.pk, dispatch=replace_then_process)
    assert SourceFile.objects.get().state == FileState.SUPERSEDED
    assert Record.objects.count() == 0
    assert run_now(connector).records_created == 2
    assert run_now(connector).files_seen == 0
    assert keys(s3_client, bucket) == ["done/f.csv"] and body(s3_client, bucket, "done/f.csv") == V2
