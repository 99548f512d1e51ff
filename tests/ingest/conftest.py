"""Fixtures shared by the ingest tests."""

from typing import Any

import pytest

from tests.support.factories import make_connector


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Any:
    """alice's connector on the test bucket (incoming/ → done/, failed/)."""
    return make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
