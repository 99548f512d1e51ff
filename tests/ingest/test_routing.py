"""How files are moved: a small file whose bytes a run read is written where it goes by a PUT
the endpoint refuses over an existing name, where the endpoint honours that; otherwise, and
for large files, by a copy after a listing. Either way nothing is overwritten, the file keeps
its properties, and a source is deleted only while it holds the version ingested."""

from collections.abc import Iterator
from typing import Any

import pytest

from ingest import batches, ingestion, inline, listing, runs, tasks
from ingest.models import FileState, RunStatus, SourceFile
from ingest.s3.objects import LEDGER_META
from tests.support.factories import GOOD_CSV, keys, make_connector, put, run_now
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.s3_clients import Counting, wrap_clients


def good(number: int) -> str:
    return GOOD_CSV.replace("p1", f"p1-{number}").replace("p2", f"p2-{number}")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counted: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, counted))
    return counted


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Any:
    return make_connector(alice, bucket=bucket, endpoint=s3_endpoint)


def put_with_properties(s3_client: Any, bucket: str, key: str, body: str, **extra: Any) -> None:
    s3_client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode(),
        ContentType="text/csv",
        ContentLanguage="en",
        ContentDisposition='attachment; filename="export.csv"',
        CacheControl="no-cache",
        Metadata={"origin": "crm-export"},
        **extra,
    )


def test_small_files_are_put_where_they_go_without_listing_or_copying(
    connector, bucket, s3_client, calls
) -> None:
    for number in range(3):
        put_with_properties(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED and run.files_succeeded == 3
    assert keys(s3_client, bucket) == [f"done/f{number}.csv" for number in range(3)]
    assert calls["copy_object"] == 1  # the probe's (see test_conditions)
    # The source listing, and the sources' ETags just before deleting them (moto ignores the
    # ETags of a DeleteObjects): no destination listing.
    assert calls["get_paginator"] == 2
    assert calls["put_object"] == 3 + 2  # the files, and the probe written twice
    assert calls["delete_objects"] == 1 + 1  # the sources; the probe's
    for number in range(3):
        moved = s3_client.head_object(Bucket=bucket, Key=f"done/f{number}.csv")
        ledger_id = str(SourceFile.objects.get(key=f"incoming/f{number}.csv").pk)
        assert moved["Metadata"] == {"origin": "crm-export", LEDGER_META: ledger_id}
        assert (moved["ContentType"], moved["ContentLanguage"], moved["CacheControl"]) == (
            "text/csv",
            "en",
            "no-cache",
        )
        assert moved["ContentDisposition"] == 'attachment; filename="export.csv"'
        body = s3_client.get_object(Bucket=bucket, Key=f"done/f{number}.csv")["Body"].read()
        assert body == good(number).encode()


def test_a_put_never_overwrites_and_takes_the_next_free_name(
    connector, bucket, s3_client, calls
) -> None:
    put(s3_client, bucket, "done/f0.csv", "someone else's file")
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert first.destination_key == f"done/f0-{first.pk}.csv"
    assert s3_client.get_object(Bucket=bucket, Key="done/f0.csv")["Body"].read() == (
        b"someone else's file"
    )
    assert calls["copy_object"] == 1  # the probe's


def test_a_move_interrupted_after_its_put_finds_its_own_object(
    connector, bucket, s3_client
) -> None:
    """The PUT succeeded but the ledger was not written (a crash): the next attempt finds the
    name taken by an object this ledger entry wrote, and uses it."""
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = runs.start_run(connector, trigger="manual")
    claimed: list[int] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: claimed.extend(ids))
    first = SourceFile.objects.get(key="incoming/f0.csv")
    s3_client.put_object(
        Bucket=bucket,
        Key="done/f0.csv",
        Body=good(0).encode(),
        Metadata={LEDGER_META: str(first.pk)},
    )
    inline.process_batch(run.pk, claimed)
    first.refresh_from_db()
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f0.csv")
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]


def test_tagged_files_are_copied_so_that_they_keep_their_tags(
    connector, bucket, s3_client, calls
) -> None:
    put(s3_client, bucket, "incoming/plain.csv", good(0))
    s3_client.put_object(
        Bucket=bucket, Key="incoming/tagged.csv", Body=good(1).encode(), Tagging="team=crm"
    )
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    tags = s3_client.get_object_tagging(Bucket=bucket, Key="done/tagged.csv")["TagSet"]
    assert tags == [{"Key": "team", "Value": "crm"}]
    assert calls["copy_object"] == 1 + 1  # the tagged file, the probe's; the other was PUT


def test_with_conditional_writes_off_files_are_copied(
    connector, bucket, s3_client, calls, settings
) -> None:
    settings.S3_CONDITIONAL_WRITES = "off"
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run_now(connector)
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]
    assert calls["copy_object"] == 2 and "put_object" not in calls


@pytest.fixture
def ignoring_proxy(moto_url: str, settings: Any) -> Iterator[FaultProxy]:
    """An endpoint that ignores If-None-Match, as some S3-compatible stores do."""
    with fault_proxy(moto_url) as running:
        running.drop_headers = {"if-none-match"}
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        yield running


def test_an_endpoint_that_ignores_the_condition_is_found_out_and_gets_copies(
    alice, bucket, s3_endpoint, s3_client, ignoring_proxy, calls
) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=ignoring_proxy.url)
    put(s3_client, bucket, "done/f0.csv", "someone else's file")
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    assert s3_client.get_object(Bucket=bucket, Key="done/f0.csv")["Body"].read() == (
        b"someone else's file"
    )
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert first.destination_key == f"done/f0-{first.pk}.csv"
    assert calls["copy_object"] == 2 + 1  # the files; the probe's
    assert calls["put_object"] == 2  # the probe, twice: the second was not refused
    assert not [key for key in keys(s3_client, bucket) if ".loadbay-probe-" in key]


class ReplacedWhileMoving:
    """The real client, except that DeleteObjects answers as S3 does for a key whose ETag no
    longer matches (a conditional delete): the source was replaced after it was read."""

    def __init__(self, client: Any, key: str) -> None:
        self._client, self._key = client, key
        self.deletes: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        objects = kwargs["Delete"]["Objects"]
        self.deletes.extend(objects)
        others = [o for o in objects if o["Key"] != self._key]
        if others:
            self._client.delete_objects(Bucket=kwargs["Bucket"], Delete={"Objects": others})
        error = {"Key": self._key, "Code": "PreconditionFailed", "Message": "At least one..."}
        return {"Errors": [error] if len(others) < len(objects) else []}


def test_a_source_replaced_while_it_was_moved_is_not_deleted(
    connector, bucket, s3_client, monkeypatch
) -> None:
    wrapped = wrap_clients(monkeypatch, lambda c: ReplacedWhileMoving(c, "incoming/f0.csv"))
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)

    sent = [o for w in wrapped for o in w.deletes if ".loadbay-probe-" not in o["Key"]]
    etags = {f.key: f'"{f.etag}"' for f in SourceFile.objects.all()}
    assert sent and all(o["ETag"] == etags[o["Key"]] for o in sent)  # deleted only if unchanged
    first = SourceFile.objects.get(key="incoming/f0.csv")
    assert (first.state, first.destination_key) == (FileState.MOVED, "done/f0.csv")
    assert "incoming/f0.csv" in keys(s3_client, bucket)  # left for the next run
    assert any("replaced in the source directory" in n for n in run.notes), run.notes


def test_a_batch_of_files_locks_their_entity_type_once(connector, bucket, s3_client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for number in range(3):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    with CaptureQueriesContext(connection) as queries:
        run = run_now(connector)
    assert run.files_succeeded == 3
    locks = [  # the writer's lock (FOR KEY SHARE on PostgreSQL; SQLite has no row locks)
        q
        for q in queries
        if '"entities_entitytype"' in q["sql"]
        and q["sql"].split()[1] in {"CURRENT_TIMESTAMP", "NULL"}
    ]
    assert len(locks) == 1, locks


def test_a_batch_for_an_entity_that_is_gone_fails_each_file_saying_so(
    connector, bucket, s3_client, monkeypatch
) -> None:
    from dataclasses import replace

    real = ingestion.ingest_config  # which a batch reads once
    gone = lambda connector, file_id: replace(real(connector, file_id), entity_type_id=999_999)  # noqa: E731
    monkeypatch.setattr(batches, "ingest_config", gone)
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run_now(connector)
    reasons = set(SourceFile.objects.values_list("failure_reason", flat=True))
    assert reasons == {"the entity (id 999999) this connector writes into no longer exists"}


class KnowsNoConditionalDeletes:
    """The real client, except that DeleteObjects with ETags is refused as malformed, as an
    endpoint that does not know conditional deletes answers."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        if any("ETag" in o for o in kwargs["Delete"]["Objects"]):
            from botocore.exceptions import ClientError

            self.refused += 1
            error = {"Error": {"Code": "MalformedXML", "Message": "The XML is not well-formed"}}
            raise ClientError(error, "DeleteObjects")
        return self._client.delete_objects(**kwargs)


def test_an_endpoint_without_conditional_deletes_gets_plain_ones(
    connector, bucket, s3_client, monkeypatch
) -> None:
    wrapped = wrap_clients(monkeypatch, KnowsNoConditionalDeletes)
    for number in range(2):
        put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
    run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    assert sum(w.refused for w in wrapped) >= 1
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]
    assert set(SourceFile.objects.values_list("state", flat=True)) == {FileState.MOVED}


def test_an_endpoint_that_refuses_the_probe_gets_copies(
    alice, bucket, s3_endpoint, s3_client, moto_url, settings, calls
) -> None:
    from tests.support.fault_proxy import Rule

    with fault_proxy(moto_url) as proxy:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, proxy.url]
        proxy.rules.append(Rule("PUT", ".loadbay-probe-", "403"))
        connector = make_connector(alice, bucket=bucket, endpoint=proxy.url)
        for number in range(2):
            put(s3_client, bucket, f"incoming/f{number}.csv", good(number))
        run = run_now(connector)
    assert run.status == RunStatus.SUCCEEDED
    assert keys(s3_client, bucket) == ["done/f0.csv", "done/f1.csv"]
    assert calls["copy_object"] == 2 and calls["put_object"] == 1  # the refused probe only


# --- the error report follows the file's no-overwrite rule ----------------------------------


@pytest.fixture
def proxied(moto_url: str, s3_endpoint: str, settings: Any) -> Iterator[FaultProxy]:
    with fault_proxy(moto_url) as running:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        yield running


def breaking(proxy: FaultProxy, way: str) -> None:
    """Make the endpoint behind the proxy drop conditional writes or refuse to list failed/."""
    from tests.support.fault_proxy import Rule

    if way == "ignores-if-none-match":
        proxy.drop_headers = {"if-none-match"}
    elif way == "refuses-listing":
        proxy.rules.append(Rule("GET", "prefix=failed", "403"))
    elif way == "honours-every-condition":
        proxy.honour_conditions = True


@pytest.mark.parametrize(
    ("endpoint", "files"),
    [
        ("moto", 2),  # a batch: PUT with If-None-Match
        ("moto", 1),  # a file alone: a listing finds a free name, then a copy
        ("ignores-if-none-match", 2),  # the probe finds that out: listing and copies
        ("refuses-listing", 1),  # a HEAD per name
        ("honours-every-condition", 2),  # as AWS S3
    ],
)
def test_an_existing_error_report_is_never_overwritten(
    alice, bucket, s3_client, proxied, endpoint: str, files: int
) -> None:
    from tests.support.factories import BAD_CSV

    breaking(proxied, endpoint)
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "failed/r.csv.errors.txt", "an older report, not ours")
    put(s3_client, bucket, "incoming/r.csv", BAD_CSV)
    if files == 2:
        put(s3_client, bucket, "incoming/s.csv", good(0))
    run_now(connector)
    failed = SourceFile.objects.get(key="incoming/r.csv")
    assert s3_client.get_object(Bucket=bucket, Key="failed/r.csv.errors.txt")["Body"].read() == (
        b"an older report, not ours"
    )
    assert (failed.state, failed.destination_key) == (FileState.MOVED, f"failed/r-{failed.pk}.csv")
    assert failed.report_key == f"failed/r-{failed.pk}.csv.errors.txt"
    assert keys(s3_client, bucket, "failed/") == sorted(
        ["failed/r.csv.errors.txt", failed.destination_key, failed.report_key]
    )
    report = s3_client.get_object(Bucket=bucket, Key=failed.report_key)["Body"].read().decode()
    assert "incoming/r.csv" in report and "not-an-email" in report


class ReportNameTakenMeanwhile:
    """The real client; right after the file is written to failed/r.csv, someone else writes
    failed/r.csv.errors.txt (after the name was found free, before the report is written)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def _then_take_the_report_name(self, kwargs: dict[str, Any]) -> None:
        if kwargs["Key"] == "failed/r.csv":
            put(self._client, kwargs["Bucket"], "failed/r.csv.errors.txt", "someone else's")

    def put_object(self, **kwargs: Any) -> Any:
        response = self._client.put_object(**kwargs)
        self._then_take_the_report_name(kwargs)
        return response

    def copy_object(self, **kwargs: Any) -> Any:
        response = self._client.copy_object(**kwargs)
        self._then_take_the_report_name(kwargs)
        return response


@pytest.mark.parametrize("files", [1, 2], ids=["copied", "put"])
def test_a_report_name_taken_at_the_last_moment_sends_the_file_elsewhere(
    connector, bucket, s3_client, monkeypatch, files: int
) -> None:
    from tests.support.factories import BAD_CSV

    monkeypatch.setattr(tasks.move_files, "max_retries", 0)  # a move is tried twice
    wrap_clients(monkeypatch, ReportNameTakenMeanwhile)
    put(s3_client, bucket, "incoming/r.csv", BAD_CSV)
    if files == 2:
        put(s3_client, bucket, "incoming/s.csv", good(0))
    run = run_now(connector)
    failed = SourceFile.objects.get(key="incoming/r.csv")
    assert (failed.state, failed.report_key) == (
        FileState.MOVED,
        f"failed/r-{failed.pk}.csv.errors.txt",
    )
    assert keys(s3_client, bucket, "failed/") == sorted(
        ["failed/r.csv.errors.txt", failed.destination_key, failed.report_key]
    )  # our copy at failed/r.csv, whose report name was taken, was taken back
    assert s3_client.get_object(Bucket=bucket, Key="failed/r.csv.errors.txt")["Body"].read() == (
        b"someone else's"
    )
    assert run.status == RunStatus.PARTIAL  # the failed file; it is moved
