"""S3 faults injected at the HTTP level: each one is retried or reported on the run, and after
a clean rerun every file is in exactly one place and every record exists exactly once."""

from collections.abc import Iterator
from typing import Any

import pytest

from entities.models import Record
from ingest import services
from ingest.models import FileState, Run, SourceFile
from tests.reliability.figures import record
from tests.support.factories import GOOD_CSV, keys, make_connector, put
from tests.support.fault_proxy import FaultProxy, Rule, fault_proxy


@pytest.fixture
def proxy(moto_url: str, settings: Any) -> Iterator[FaultProxy]:
    with fault_proxy(moto_url) as running:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        settings.S3_READ_TIMEOUT = 1
        yield running


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str, proxy: FaultProxy) -> Any:
    return make_connector(alice, bucket=bucket, endpoint=proxy.url)


def run_now(connector: Any) -> Run:
    return services.run_inline(services.start_run(connector, trigger="manual"))


def converged(s3_client: Any, bucket: str) -> None:
    assert keys(s3_client, bucket) == ["done/good.csv"]
    assert Record.objects.count() == 2
    assert SourceFile.objects.get().state == FileState.MOVED


@pytest.mark.parametrize("action", ["503", "500", "reset", "stall"])
def test_a_passing_fault_on_read_is_retried(
    connector, proxy, bucket, s3_client, action: str
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "incoming/good.csv", action, times=2))
    run = run_now(connector)
    assert run.status == "succeeded", (run.error, run.notes)
    converged(s3_client, bucket)
    record(
        "s3_faults", f"{action} twice on GetObject", injected=proxy.rules[0].hits, outcome="retried"
    )


def test_a_lasting_outage_on_read_is_reported_and_the_file_kept(
    connector, proxy, bucket, s3_client
) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "incoming/good.csv", "503"))
    run = run_now(connector)
    assert any("not read this time" in note and "SlowDown" in note for note in run.notes)
    assert keys(s3_client, bucket) == ["incoming/good.csv"] and Record.objects.count() == 0
    proxy.rules.clear()
    assert run_now(connector).files_succeeded == 1
    converged(s3_client, bucket)
    record("s3_faults", "503 on every GetObject", outcome="reported, retried next run")


def test_a_listing_outage_fails_the_run_with_a_reason(connector, proxy, bucket, s3_client) -> None:
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(Rule("GET", "list-type=2", "500"))
    run = run_now(connector)
    assert run.status == "failed" and "InternalError" in run.error
    proxy.rules.clear()
    run_now(connector)
    converged(s3_client, bucket)
    record("s3_faults", "500 on every ListObjectsV2", outcome="run failed with reason")


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        (Rule("PUT", "done/good.csv", "403"), "AccessDenied on the copy (PUT)"),
        (Rule("POST", "?delete", "403"), "AccessDenied on DeleteObjects"),
        (Rule("POST", "?delete", "reset"), "connection reset on DeleteObjects"),
    ],
    ids=["copy-denied", "delete-denied", "delete-reset"],
)
def test_a_failed_move_is_shown_then_finished_without_ingesting_again(
    connector, proxy, bucket, s3_client, monkeypatch, rule: Rule, name: str
) -> None:
    monkeypatch.setattr(services, "ROUTE_RETRY_DELAYS", (0.05,))
    put(s3_client, bucket, "incoming/good.csv", GOOD_CSV)
    proxy.rules.append(rule)
    first = run_now(connector)
    source_file = SourceFile.objects.get()
    assert first.status == "partial"
    assert source_file.state == FileState.INGESTED and source_file.route_error
    assert "incoming/good.csv" in keys(s3_client, bucket)
    proxy.rules.clear()
    second = run_now(connector)
    assert second.records_created == 0
    converged(s3_client, bucket)
    record("s3_faults", name, outcome="shown on the run, moved by the next run")
