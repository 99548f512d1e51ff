"""Hostile S3 Endpoint URLs, and settings no client can be built from: the wizard answers with
a field error, Test connection with a failed check and a run fails with the reason; never a
500 page, never a run left Running."""

from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.client
import pytest
from cryptography.fernet import Fernet
from django.test import Client

from connectors.endpoints import InvalidEndpoint, endpoint_origin
from connectors.models import Connector, S3Settings
from tests.reliability.figures import record
from tests.support.factories import make_connector, run_now
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    post_step,
    s3_access_key_values,
    source_values,
)

NEW = "/connectors/new/"


def hostile_variants(moto_url: str) -> dict[str, str]:
    """The issue's URLs and their kin, each built around the allowed endpoint (moto)."""
    port = urlsplit(moto_url).port
    return {
        "a tab inside the port": f"http://127.0.0.1:\t{port}",
        "a line feed inside the port": f"http://127.0.0.1:\n{port}",
        "an IPv4 address in brackets": f"http://[127.0.0.1]:{port}",
        "an unclosed bracket": "http://[::1",
        "an IPv6 zone id": f"http://[::1%25lo]:{port}",
        "a path": f"{moto_url}/moto-api",
        "a climbing path": f"{moto_url}/../../",
        "a percent-encoded tab": f"http://127.0.0.1%09:{port}",
        "a user and password": f"http://admin:pw@127.0.0.1:{port}",
        "a query": f"{moto_url}/?x-id=ListBuckets",
        "a fragment": f"{moto_url}#x",
        "a port out of range": "http://127.0.0.1:65536",
    }


CASES = list(hostile_variants("http://127.0.0.1:4570"))


@pytest.fixture
def browser(alice: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    post_step(client, NEW, "entity_settings", entity_settings_values())
    post_step(client, NEW, "source", source_values())
    return client


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("button", ["Test connection", "Next"])
def test_the_wizard_gives_a_field_error(
    browser: Client, bucket: str, s3_endpoint: str, case: str, button: str
) -> None:
    url = hostile_variants(s3_endpoint)[case]
    extra = {"test_connection": "1"} if button == "Test connection" else {}
    values = s3_access_key_values(bucket, endpoint=url)
    response = post_step(browser, NEW, "source_settings", values, **extra)
    assert response.status_code == 200, f"{case}: {response.status_code}"
    assert response.context["form"].errors.get("endpoint_url"), case
    assert response.context["wizard"]["steps"].current == "source_settings"
    assert not Connector.objects.exists()
    record("hostile_endpoints", f"{case} ({button})", outcome="field error")


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Connector:
    return make_connector(alice, bucket=bucket, endpoint=s3_endpoint)


def store(connector: Connector, **values: str) -> None:
    """Write settings as an older, laxer version could have saved them."""
    S3Settings.objects.filter(connector=connector).update(**values)
    connector.refresh_from_db()


def connection_test_page(alice: Any, connector: Connector) -> str:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.post(f"/connectors/{connector.pk}/test/")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("case", CASES)
def test_a_saved_hostile_endpoint_fails_the_run_and_the_test_with_the_reason(
    alice: Any, connector: Connector, s3_endpoint: str, case: str
) -> None:
    url = hostile_variants(s3_endpoint)[case]
    with pytest.raises(InvalidEndpoint) as parsed:
        endpoint_origin(url)
    store(connector, endpoint_url=url)
    run = run_now(connector)
    assert run.status == "failed", case
    assert run.error == (
        f"Listing the source directory failed: The S3 Endpoint URL is not valid: {parsed.value} "
        "Edit the connector."
    )
    page = connection_test_page(alice, connector)
    assert "✗ Use these settings" in page and "The S3 Endpoint URL is not valid" in page
    record("hostile_endpoints", f"{case} (saved, run and Test connection)", outcome="failed check")


@pytest.mark.parametrize(
    ("case", "settings_values", "reason"),
    [
        ("a region botocore refuses", {"region": "eu west 1"}, "Provided region_name"),
        ("a region with a tab", {"region": "eu-west-1\t"}, "Provided region_name"),
    ],
)
def test_saved_settings_botocore_refuses_fail_the_run_and_the_test(
    alice: Any, connector: Connector, case: str, settings_values: dict[str, str], reason: str
) -> None:
    store(connector, **settings_values)
    run = run_now(connector)
    assert run.status == "failed"
    assert run.error.startswith(
        "Listing the source directory failed: Could not set up an S3 client with these settings:"
    )
    assert reason in run.error
    assert reason in connection_test_page(alice, connector)
    record("client_setup", case, outcome="run failed with reason; failed check")


def test_any_error_building_a_client_fails_the_run_and_the_test(
    alice: Any, connector: Connector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("Invalid endpoint: simulated")

    monkeypatch.setattr(botocore.client.ClientCreator, "create_client", fail)
    run = run_now(connector)
    assert run.status == "failed"
    assert run.error == (
        "Listing the source directory failed: Could not set up an S3 client with these "
        "settings: Invalid endpoint: simulated"
    )
    assert "Invalid endpoint: simulated" in connection_test_page(alice, connector)
    record("client_setup", "any ValueError from botocore", outcome="run failed with reason")


def test_a_secret_that_cannot_be_decrypted_fails_the_run_and_the_test(
    alice: Any, connector: Connector
) -> None:
    other_key = Fernet(Fernet.generate_key())
    store(
        connector,
        access_key_secret_encrypted="lbenc1:" + other_key.encrypt(b"an-old-secret").decode(),
    )
    run = run_now(connector)
    assert run.status == "failed"
    assert run.error.startswith(
        "Listing the source directory failed: The stored Access Key Secret is unreadable"
    )
    assert "enter it again" in connection_test_page(alice, connector)
    record("client_setup", "a secret encrypted with another key", outcome="run failed with reason")


SEEDS = ["http://127.0.0.1:4570/", "https://minio.example.com:9000", "http://[::1]:9000"]
INSERTS = [
    *"\t\n\r \x00\x0b\x1f\x7f",
    "\u00a0",
    "\u200b",
    "\u3002",
    *"%@[]:/\\?#.-_",
    "%09",
    "%2e",
    "0",
    "A",
]


def mutations() -> list[str]:
    urls = set()
    for seed in SEEDS:
        for position in range(len(seed) + 1):
            for insert in INSERTS:
                urls.add(seed[:position] + insert + seed[position:])
    return sorted(urls)


def test_whatever_it_accepts_botocore_and_urlsplit_read_as_the_same_origin() -> None:
    """Each one-character change of a few good URLs is refused, or its normalised origin is a
    URL that urlsplit reads back unchanged and botocore builds a client for, as is."""
    accepted = 0
    cases = mutations()
    for url in cases:
        try:
            origin = endpoint_origin(url)
        except InvalidEndpoint:
            continue
        accepted += 1
        parts = urlsplit(origin)
        assert f"{parts.scheme}://{parts.netloc}" == origin, url
        assert endpoint_origin(origin) == origin, url
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        assert origin == f"{parts.scheme}://{host}:{parts.port}", url
        client = boto3.client(
            "s3",
            endpoint_url=origin,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="not-used-no-request-is-sent",
        )
        assert client.meta.endpoint_url == origin, url
    assert 0 < accepted < len(cases)
    record(
        "hostile_endpoints",
        "one-character mutations of 3 good URLs",
        tried=len(cases),
        accepted_and_read_alike=accepted,
        refused=len(cases) - accepted,
    )
