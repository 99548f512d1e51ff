"""The probe: which request conditions an endpoint honours, found once per client and directory
(moto ignores CopySourceIfMatch and the ETags in DeleteObjects), and what moves rely on by it:
PUTs where If-None-Match is honoured; copies where it is ignored, refused, or switched off; and
no checks of their own where every condition is honoured."""

from collections.abc import Iterator
from typing import Any

import pytest

from ingest.models import Run, RunStatus, SourceFile
from ingest.s3 import conditions
from ingest.s3.conditions import Honoured
from tests.support.factories import V1, good, keys, make_connector, put, run_now
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.s3_clients import Counting, wrap_clients

# --- the probe ------------------------------------------------------------------------------


def test_the_probe_finds_what_moto_honours(bucket, s3_client) -> None:
    found = conditions.endpoint_conditions(s3_client, bucket, "done/")
    assert found == Honoured(put_if_absent=True, copy_if_match=False, delete_if_match=False)
    assert keys(s3_client, bucket) == []  # its objects are removed


def test_the_probe_finds_what_an_aws_like_endpoint_honours(bucket, proxied) -> None:
    import boto3

    proxied.honour_conditions = True
    client = boto3.client(
        "s3",
        endpoint_url=proxied.url,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    found = conditions.endpoint_conditions(client, bucket, "done/")
    assert found == Honoured(put_if_absent=True, copy_if_match=True, delete_if_match=True)
    assert keys(client, bucket) == []


def test_it_is_probed_once_per_client_and_directory(bucket, s3_client) -> None:
    calls: dict[str, int] = {}
    counting = Counting(s3_client, calls)
    for _ in range(3):
        assert conditions.honours_conditional_writes(counting, bucket, "done/") is True
        conditions.endpoint_conditions(counting, bucket, "done/")
    assert calls == {"put_object": 2, "copy_object": 1, "delete_objects": 1, "delete_object": 1}


def test_threads_asking_at_once_share_one_probe(bucket, s3_client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    calls: dict[str, int] = {}
    counting = Counting(s3_client, calls)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: conditions.honours_conditional_writes(counting, bucket, "done/"),
                range(8),
            )
        )
    assert answers == [True] * 8
    assert calls == {"put_object": 2, "copy_object": 1, "delete_objects": 1, "delete_object": 1}


def test_with_conditional_writes_off_nothing_is_probed_and_nothing_relied_on(
    bucket, s3_client, settings
) -> None:
    settings.S3_CONDITIONAL_WRITES = "off"
    calls: dict[str, int] = {}
    found = conditions.endpoint_conditions(Counting(s3_client, calls), bucket, "done/")
    assert found == Honoured(put_if_absent=False, copy_if_match=False, delete_if_match=False)
    assert calls == {}


# --- what moves rely on by it ---------------------------------------------------------------


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


def test_nothing_extra_is_asked_of_an_endpoint_that_honours_the_conditions(
    alice, bucket, s3_client, proxied, monkeypatch
) -> None:
    proxied.honour_conditions = True
    calls: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, calls))
    connector = make_connector(alice, bucket=bucket, endpoint=proxied.url)
    put(s3_client, bucket, "incoming/big.csv", V1)  # alone: copied
    run_now(connector)
    assert calls["get_paginator"] == 2  # the source listing, the destination's
    assert "head_object" not in calls
    assert keys(s3_client, bucket) == ["done/big.csv"]
    assert Run.objects.get().status == RunStatus.SUCCEEDED
