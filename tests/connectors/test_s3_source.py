"""The S3 source's client for settings not saved yet (the wizard's Field Mapping reads a sample
with it): built from step 4's cleaned data, the secret a token decrypted only in memory, shared
while the settings stay the same; and where those settings say the files are."""

from typing import Any

import pytest

from connectors.aws import S3AccessError
from connectors.sources import get_source
from connectors.sources.base import SourceDirectories
from tests.support.factories import put, s3_settings


def cleaned(bucket: str, endpoint: str, **overrides: Any) -> dict[str, Any]:
    return s3_settings(bucket, endpoint, **{"failed_path": "", **overrides})


def test_a_client_for_unsaved_settings_reads_the_bucket(bucket, s3_endpoint, s3_client) -> None:
    put(s3_client, bucket, "incoming/a.csv", "id\n1\n")
    source = get_source("s3")
    client = source.settings_client(cleaned(bucket, s3_endpoint), external_id="loadbay-x")
    assert client is not None
    listed = client.list_objects_v2(Bucket=bucket, Prefix="incoming/")
    assert [item["Key"] for item in listed["Contents"]] == ["incoming/a.csv"]
    again = source.settings_client(cleaned(bucket, s3_endpoint), external_id="loadbay-x")
    assert again is client  # a page read again builds no new client


def test_an_iam_role_is_assumed_for_unsaved_settings(bucket, s3_endpoint) -> None:
    values = cleaned(
        bucket,
        s3_endpoint,
        auth_type="iam_role",
        access_key_id="",
        access_key_secret="",
        iam_role_arn="arn:aws:iam::123456789012:role/loadbay",
    )
    client = get_source("s3").settings_client(values, external_id="loadbay-x")
    assert client is not None and client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_an_unreadable_secret_says_so(bucket, s3_endpoint) -> None:
    values = cleaned(bucket, s3_endpoint, access_key_secret="gAAAAAnot-a-real-token")
    with pytest.raises(S3AccessError, match="The stored Access Key Secret is unreadable"):
        get_source("s3").settings_client(values, external_id="loadbay-x")


def test_the_directories_are_those_of_the_settings() -> None:
    where = get_source("s3").settings_directories(cleaned("acme-data", ""))
    assert where == SourceDirectories("acme-data", "incoming/", "done/", "")
