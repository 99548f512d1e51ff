"""Reports a person reads: a failed file's error report, and the CSV export of a run, whose
cells no spreadsheet runs as formulas, in any locale."""

import csv
import io

import pytest

from ingest import inline, reports, runs
from tests.support.factories import BAD_CSV, make_connector, put, run_now
from tests.support.pages import report_text


def test_a_failed_file_gets_a_readable_error_report(connector, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/bad.csv", BAD_CSV)
    run_now(connector)
    report = s3_client.get_object(Bucket=bucket, Key="failed/bad.csv.errors.txt")["Body"].read()
    text = report.decode()
    assert "incoming/bad.csv" in text
    assert "line 3, column email" in text and "not-an-email" in text
    assert "Nothing from this file was written." in text


def test_report_cells_cannot_become_spreadsheet_formulas() -> None:
    lines = list(reports.csv_lines(iter([["=1+1", "-2", "@x", "+y", "\t=z", " =w", "plain"]])))
    assert lines == ['\ufeff"\'=1+1","\'-2","\'@x","\'+y","\'\t=z","\' =w","plain"\r\n']


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_no_locale_splits_a_report_cell_into_a_formula(
    alice, bucket, s3_endpoint, s3_client, separator
) -> None:
    """A spreadsheet whose list separator is ";" (or tab, or |) splits a line there whatever
    its quotes: the key x;=1+2;y.csv must not give it a cell =1+2."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    put(s3_client, bucket, "incoming/x;=1+2;y.csv", BAD_CSV)
    put(s3_client, bucket, "incoming/a|@SUM(1)\t-3,+4.csv", BAD_CSV)
    run = inline.run_inline(runs.start_run(connector, trigger="manual", user=alice))
    _, text = report_text(alice, run)
    assert "x;'=1+2;y.csv" in text
    for line in text.removeprefix("\ufeff").splitlines():
        cells = [c.strip('"') for c in line.split(separator)]
        cells += next(csv.reader([line], delimiter=separator))
        risky = [c for c in cells if c.startswith(FORMULA_STARTS)]
        assert not risky, (separator, line)
    keys = {row["file"] for row in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))}
    assert keys == {"incoming/x;'=1+2;y.csv", "incoming/a|'@SUM(1)\t'-3,'+4.csv"}
