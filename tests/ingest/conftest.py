"""Fixtures shared by the ingest tests."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.factories import make_connector
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.s3_clients import Counting, wrap_clients


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Any:
    """alice's connector on the test bucket (incoming/ → done/, failed/)."""
    return make_connector(alice, bucket=bucket, endpoint=s3_endpoint)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The calls runs make to S3, counted by name."""
    counted: dict[str, int] = {}
    wrap_clients(monkeypatch, lambda client: Counting(client, counted))
    return counted


@pytest.fixture
def proxied(moto_url: str, s3_endpoint: str, settings: Any) -> Iterator[FaultProxy]:
    """The fault proxy in front of moto, allowed as an S3 endpoint."""
    with fault_proxy(moto_url) as running:
        settings.S3_ALLOWED_ENDPOINTS = [moto_url, running.url]
        yield running
