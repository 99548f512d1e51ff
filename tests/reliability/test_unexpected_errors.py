"""No file jams a connector: through a real Celery worker, a JSON or NDJSON file nested 100,000
levels deep, and an exception raised mid-parse in a batch of small files and in a big file
(the test-only fault point), each fail that file with a reason in words; it is moved to the
Failed Files Directory with its report, the other files are ingested, and the run finishes."""

from pathlib import Path
from typing import Any

import pytest

from entities.models import Record
from ingest import runs, tasks
from ingest.models import Run, RunStatus, RunTrigger, SourceFile
from tests.reliability.figures import record
from tests.support.celery_worker import celery_worker, flush_broker, wait_for
from tests.support.factories import GOOD_CSV, keys, make_connector, put

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEEP = 100_000


def run_by_a_worker(connector: Any) -> Run:
    """Run now, carried out by the worker this test started (and no other)."""
    run = runs.start_run(connector, trigger=RunTrigger.MANUAL)
    tasks.run_connector.delay(run.pk)
    wait_for(
        lambda: Run.objects.get(pk=run.pk).finished_at is not None,
        timeout=90,
        what="the run to finish",
    )
    return Run.objects.get(pk=run.pk)


@pytest.mark.parametrize(
    ("file_format", "deep", "good"),
    [
        ("json", "[" + "[" * DEEP + "]" * DEEP + "]", '[{"profile_id": "p1"}]'),
        ("ndjson", '{"a": ' * DEEP + "1" + "}" * DEEP + "\n", '{"profile_id": "p1"}\n'),
    ],
)
def test_a_deeply_nested_file_fails_and_the_valid_one_beside_it_is_ingested(
    alice, bucket, s3_endpoint, s3_client, moto_url, file_format, deep, good
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, file_format=file_format)
    put(s3_client, bucket, f"incoming/a-deep.{file_format}", deep)
    put(s3_client, bucket, f"incoming/b-valid.{file_format}", good)
    flush_broker()

    with celery_worker(moto_url, name=f"deep-{file_format}"):
        run = run_by_a_worker(connector)

    assert (run.status, run.files_succeeded, run.files_failed) == (RunStatus.PARTIAL, 1, 1)
    failed = SourceFile.objects.get(key=f"incoming/a-deep.{file_format}")
    assert "nests arrays or objects too deeply to be read" in failed.row_errors.get().reason
    assert keys(s3_client, bucket) == [
        f"done/b-valid.{file_format}",
        f"failed/a-deep.{file_format}",
        f"failed/a-deep.{file_format}.errors.txt",
    ]
    report = s3_client.get_object(Bucket=bucket, Key=f"failed/a-deep.{file_format}.errors.txt")
    assert "too deeply" in report["Body"].read().decode()
    assert Record.objects.count() == 1
    record("unexpected_errors", f"{file_format} nested {DEEP:,} levels", outcome="failed")


def test_an_error_raised_mid_parse_fails_only_its_file_batched_or_alone(
    alice, bucket, s3_endpoint, s3_client, moto_url, tmp_path: Path
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    four_rows = GOOD_CSV + "p5,Edsger,D,ed@example.com\np6,Barbara,L,bl@example.com\n"
    for name in ("a", "c", "d"):
        put(s3_client, bucket, f"incoming/{name}.csv", four_rows.replace("\np", f"\n{name}"))
    put(s3_client, bucket, "incoming/b-faulty.csv", four_rows.replace("\np", "\nb"))
    big = "".join(f"big{i},First,Last,big{i}@example.com\n" for i in range(60_000))  # 2 MB
    put(s3_client, bucket, "incoming/e-faulty-big.csv", GOOD_CSV.split("\n")[0] + "\n" + big)
    fault = {
        "INGEST_FAULT_POINT": "mid_parse",
        "INGEST_FAULT_ACTION": "raise",
        "INGEST_FAULT_KEY": "faulty",
        "INGEST_BATCH_BYTES": str(1024 * 1024),  # the big file goes alone, streamed
    }
    flush_broker()

    with celery_worker(moto_url, name="faulty", extra_env=fault):  # the only worker running
        run = run_by_a_worker(connector)

    assert (run.status, run.files_succeeded, run.files_failed) == (RunStatus.PARTIAL, 3, 2)
    for key in ("incoming/b-faulty.csv", "incoming/e-faulty-big.csv"):
        assert SourceFile.objects.get(key=key).failure_reason.startswith(
            "an unexpected error stopped processing this file: InjectedFault: fault injected "
            "at mid_parse"
        )
    assert Record.objects.count() == 12
    assert not Record.objects.filter(external_id__startswith="b").exists()
    assert keys(s3_client, bucket) == [
        "done/a.csv",
        "done/c.csv",
        "done/d.csv",
        "failed/b-faulty.csv",
        "failed/b-faulty.csv.errors.txt",
        "failed/e-faulty-big.csv",
        "failed/e-faulty-big.csv.errors.txt",
    ]
    record("unexpected_errors", "raised mid-parse, batch and big file", files=5, failed=2)
