"""Runs share one S3 client per connector settings within a process, for a while; any change
to the settings gets a new client, and the endpoint allow-list is checked on every use."""

from dataclasses import replace

import pytest

from connectors.aws import S3AccessError, S3Params, shared_s3_client

ENDPOINT = "http://127.0.0.1:9"  # never contacted: building a client sends no request


@pytest.fixture
def params(settings) -> S3Params:
    settings.S3_ALLOWED_ENDPOINTS = [ENDPOINT]
    return S3Params(
        bucket="acme-data",
        auth_type="access_key",
        access_key_id="AKIA" + "A" * 16,
        access_key_secret="s" * 40,
        endpoint_url=ENDPOINT,
    )


def test_the_same_settings_share_one_client(params: S3Params) -> None:
    assert shared_s3_client(params) is shared_s3_client(replace(params))


@pytest.mark.parametrize(
    "change",
    [
        {"access_key_secret": "t" * 40},
        {"access_key_id": "AKIA" + "B" * 16},
        {"region": "eu-west-1"},
    ],
)
def test_changed_settings_get_a_new_client(params: S3Params, change: dict[str, str]) -> None:
    first = shared_s3_client(params)
    second = shared_s3_client(replace(params, **change))
    assert second is not first
    assert second.meta.region_name == (change.get("region") or first.meta.region_name)


def test_a_client_is_replaced_once_it_is_older_than_the_maximum_age(params, settings) -> None:
    settings.S3_CLIENT_MAX_AGE = 0
    assert shared_s3_client(params) is not shared_s3_client(params)


def test_a_shared_client_is_refused_once_its_endpoint_is_disallowed(params, settings) -> None:
    shared_s3_client(params)
    settings.S3_ALLOWED_ENDPOINTS = []
    with pytest.raises(S3AccessError, match="not allowed by this installation"):
        shared_s3_client(params)
