"""S3 clients parse timestamps with a fast parser for S3's two forms; its results must be
exactly botocore's, and anything else must go to botocore's own parser."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.utils
import pytest

from connectors.aws import S3Params, make_s3_client, parse_timestamp

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _moments(count: int) -> list[datetime]:
    rnd = random.Random(7)
    start = datetime(1990, 1, 1, tzinfo=UTC)
    return [
        start
        + timedelta(
            seconds=rnd.randrange(0, 60 * 365 * 86400), microseconds=rnd.randrange(0, 10**6)
        )
        for _ in range(count)
    ]


def _forms(moment: datetime) -> list[str]:
    http = f"{DAYS[moment.weekday()]}, {moment:%d %b %Y %H:%M:%S} GMT"
    return [
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        http,
    ]


def test_s3_forms_parse_exactly_as_botocore() -> None:
    for value in (form for moment in _moments(500) for form in _forms(moment)):
        ours, theirs = parse_timestamp(value), botocore.utils.parse_timestamp(value)
        assert (ours, ours.utcoffset()) == (theirs, timedelta(0)), value


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T15:46:08.123456789Z",  # nanoseconds: too long for fromisoformat
        "2026-11-25T15:46:08+02:00",
        "2026-11-25T15:46:08",
        "2026-11-25",
        "Wed, 25 Nov 2026 15:46:08 +0000",
        "Wednesday, 25-Nov-26 15:46:08 GMT",
        "Wed Nov 25 15:46:08 2026",
        "Wed, 5 Nov 2026 15:46:08 GMT",
        "Wed, \u0662\u0665 Nov 2026 15:46:08 GMT",  # digits, but not ASCII ones
        "1764085568",
        "1764085568.5",
        1764085568,
    ],
)
def test_other_forms_are_botocores(value: Any) -> None:
    assert parse_timestamp(value) == botocore.utils.parse_timestamp(value)


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 31 Feb 2026 15:46:08 GMT",  # no such day
        "Wed, 25 Foo 2026 15:46:08 GMT",
        "Wed, 25 Nov 2026 25:46:08 GMT",
        "Wed, 2x Nov 2026 15:46:08 GMT",
        "2026-13-25T15:46:08.000Z",
        "not a time at all",
    ],
)
def test_invalid_values_fail_as_in_botocore(value: str) -> None:
    with pytest.raises(ValueError) as theirs:
        botocore.utils.parse_timestamp(value)
    with pytest.raises(ValueError) as ours:
        parse_timestamp(value)
    assert str(ours.value) == str(theirs.value)


def test_s3_clients_parse_listings_and_headers_with_it(
    s3_endpoint: str, s3_client: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_client.put_object(Bucket=bucket, Key="incoming/a.csv", Body=b"id\n1\n")
    expected = s3_client.head_object(Bucket=bucket, Key="incoming/a.csv")["LastModified"]
    client = make_s3_client(
        S3Params(
            bucket=bucket,
            auth_type="access_key",
            access_key_id="AKIAIOSFODNN7EXAMPLE",
            access_key_secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            endpoint_url=s3_endpoint,
        )
    )
    slow: list[Any] = []
    monkeypatch.setattr(botocore.utils, "parse_timestamp", lambda v: slow.append(v))
    listed = client.list_objects_v2(Bucket=bucket)["Contents"][0]["LastModified"]
    got = client.get_object(Bucket=bucket, Key="incoming/a.csv")["LastModified"]
    assert slow == []  # neither went to botocore's parser
    assert got == expected
    assert abs(listed - expected) < timedelta(seconds=1)  # the listing also has milliseconds
