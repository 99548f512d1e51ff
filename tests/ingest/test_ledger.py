"""The ledger's record of a file's result, through runs against moto: its verdict and its row
errors, and its counts added to its run's."""

from entities.models import Record
from ingest.models import SourceFile
from tests.support.factories import BAD_CSV, keys, make_connector, put, run_now


def test_an_invalid_row_fails_the_whole_file(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = run_now(connector)
    source_file = SourceFile.objects.get(run=run)
    assert source_file.outcome == "failed"
    assert not Record.objects.filter(external_id="p3").exists()
    error = source_file.row_errors.get()
    assert (error.line, error.column) == (3, "email")


def test_tolerance_writes_the_good_rows_and_reports_the_bad(
    alice, bucket, s3_endpoint, s3_client
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, error_tolerance="1")
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run = run_now(connector)
    assert run.files_succeeded == 1 and run.records_created == 1 and run.records_failed == 1
    assert keys(s3_client, bucket) == ["done/bad.csv"]
