"""Test connection against moto over HTTP: each permission checked with the entered
credentials and named when missing; nothing saved, probes cleaned up."""

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from connectors.aws import S3Params
from connectors.models import Connector
from connectors.preflight import run_checks
from tests.support.factories import keys, put
from tests.support.moto_server import moto_server
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    press_test_connection,
    s3_access_key_values,
    source_values,
)

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def params(bucket: str, endpoint: str, **overrides: Any) -> S3Params:
    values: dict[str, Any] = {
        "bucket": bucket,
        "auth_type": "access_key",
        "access_key_id": KEY_ID,
        "access_key_secret": SECRET,
        "endpoint_url": endpoint,
        "source_path": "incoming/",
        "success_path": "done/",
        "failed_path": "failed/",
    }
    values.update(overrides)
    return S3Params(**values)


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {check.name: check for check in checks}


def test_every_check_passes_and_the_probes_are_removed(bucket, s3_endpoint, s3_client) -> None:
    put(s3_client, bucket, "incoming/profiles.csv", "profile_id\n1\n")
    checks = run_checks(params(bucket, s3_endpoint))
    assert all(check.ok for check in checks), checks
    names = [check.name for check in checks]
    assert names == [
        "List the Source Files Directory",
        "Read a file in the Source Files Directory",
        "Delete from the Source Files Directory",
        "Write to the Successful Files Directory",
        "Clean up in the Successful Files Directory",
        "Write to the Failed Files Directory",
        "Clean up in the Failed Files Directory",
    ]
    assert keys(s3_client, bucket) == ["incoming/profiles.csv"]


def test_reading_is_skipped_when_the_source_is_empty(bucket, s3_endpoint) -> None:
    read = by_name(run_checks(params(bucket, s3_endpoint)))[
        "Read a file in the Source Files Directory"
    ]
    assert read.ok and read.skipped and "No file" in read.detail


def test_blank_targets_need_no_write_checks(bucket, s3_endpoint) -> None:
    checks = run_checks(params(bucket, s3_endpoint, success_path="", failed_path=""))
    assert not any("Write" in check.name for check in checks)


def test_a_missing_bucket_is_named(s3_endpoint) -> None:
    checks = run_checks(params("no-such-bucket-here", s3_endpoint))
    assert len(checks) == 1 and not checks[0].ok
    assert "The bucket does not exist" in checks[0].detail


def test_an_iam_role_is_assumed_with_the_external_id(bucket, s3_endpoint, monkeypatch) -> None:
    sent: dict[str, Any] = {}
    real_client = boto3.client

    def recording_client(service: str, *args: Any, **kwargs: Any) -> Any:
        client = real_client(service, *args, **kwargs)
        if service == "sts":
            client.meta.events.register(
                "provide-client-params.sts.AssumeRole",
                lambda params, **_: sent.update(params),
            )
        return client

    monkeypatch.setattr(boto3, "client", recording_client)
    checks = run_checks(
        params(
            bucket,
            s3_endpoint,
            auth_type="iam_role",
            access_key_id="",
            access_key_secret="",
            external_id="loadbay-ext-42",
            iam_role_arn="arn:aws:iam::123456789012:role/loadbay",
        )
    )
    assert checks[0].name == "Authenticate" and checks[0].ok
    assert all(check.ok for check in checks), checks
    assert sent["ExternalId"] == "loadbay-ext-42"
    assert sent["RoleArn"] == "arn:aws:iam::123456789012:role/loadbay"


# --- a moto server that enforces IAM policies ------------------------------------------------

READ_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    ],
}


@pytest.fixture(scope="module")
def enforcing_s3() -> Iterator[dict[str, str]]:
    """moto with IAM enforcement on, a bucket, and a user who may only list and read."""
    with moto_server() as url:
        admin = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": KEY_ID,
            "aws_secret_access_key": SECRET,
        }
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket="guarded")
        s3.put_object(Bucket="guarded", Key="incoming/a.csv", Body=b"profile_id\n1\n")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader", PolicyName="read", PolicyDocument=json.dumps(READ_ONLY_POLICY)
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        enforce = urllib.request.Request(  # noqa: S310 (loopback moto)
            f"{url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(enforce).close()  # noqa: S310
        yield {"url": url, "key_id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}


def test_missing_permissions_are_named(enforcing_s3, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [enforcing_s3["url"]]
    checks = run_checks(
        params(
            "guarded",
            enforcing_s3["url"],
            access_key_id=enforcing_s3["key_id"],
            access_key_secret=enforcing_s3["secret"],
        )
    )
    result = by_name(checks)
    assert result["List the Source Files Directory"].ok
    assert result["Read a file in the Source Files Directory"].ok
    delete = result["Delete from the Source Files Directory"]
    assert not delete.ok and delete.permission == "s3:DeleteObject"
    assert "Access denied" in delete.detail
    write = result["Write to the Successful Files Directory"]
    assert not write.ok and write.permission == "s3:PutObject"
    assert not result["Write to the Failed Files Directory"].ok


def test_a_wrong_secret_is_named(enforcing_s3, settings) -> None:
    settings.S3_ALLOWED_ENDPOINTS = [enforcing_s3["url"]]
    checks = run_checks(
        params(
            "guarded",
            enforcing_s3["url"],
            access_key_id=enforcing_s3["key_id"],
            access_key_secret="x" * 40,
        )
    )
    assert not checks[0].ok
    assert "does not match" in checks[0].detail or "SignatureDoesNotMatch" in checks[0].detail


# --- the buttons ------------------------------------------------------------------------------


def test_the_wizard_button_tests_without_saving(alice, client, bucket, s3_endpoint) -> None:
    client.force_login(alice)
    url = "/connectors/new/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    post_step(client, url, "source", source_values())
    response = press_test_connection(
        client, url, "source_settings", s3_access_key_values(bucket, endpoint=s3_endpoint)
    )
    page = response.content.decode()
    assert "Test connection" in page and "✓ List the Source Files Directory" in page
    assert response.context["wizard"]["steps"].current == "source_settings"
    post_step(client, url, "source_settings", s3_access_key_values(bucket, endpoint=s3_endpoint))
    review = post_step(client, url, "field_mapping", field_mapping_values())
    assert review.context["wizard"]["steps"].current == "review"
    again = press_test_connection(client, url, "review", {})
    assert "✓ Write to the Successful Files Directory" in again.content.decode()
    assert not Connector.objects.exists()


def test_the_detail_page_button_tests_a_saved_connector(alice, client, bucket, s3_endpoint) -> None:
    from tests.support.factories import make_connector

    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    client.force_login(alice)
    page = client.post(f"/connectors/{connector.pk}/test/").content.decode()
    assert "✓ Delete from the Source Files Directory" in page
