"""Ways in that must stay shut: a wrong External ID or role, endpoints that reach internal
hosts, URL guessing, and an editor sharing a connector further."""

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import get_resolver

from connectors.aws import S3AccessError, S3Params, make_s3_client
from connectors.models import AccessLevel
from connectors.preflight import run_checks
from ingest import inline, runs
from tests.reliability.figures import record
from tests.support.factories import grant, make_connector
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    s3_access_key_values,
    share_values,
    source_values,
)


def role_params(**extra: Any) -> S3Params:
    return S3Params(
        bucket="acme-data",
        auth_type="iam_role",
        external_id="loadbay-right-id",
        iam_role_arn="arn:aws:iam::123456789012:role/loadbay",
        **extra,
    )


def test_a_wrong_external_id_or_role_is_refused_with_a_clear_message(monkeypatch, db) -> None:
    # moto's STS does not evaluate trust policies, so AWS's answer is played back here.
    real_client = boto3.client

    def refusing_sts(service: str, *args: Any, **kwargs: Any) -> Any:
        client = real_client(service, *args, **kwargs)
        if service == "sts":
            stubber = Stubber(client)
            stubber.add_client_error(
                "assume_role",
                service_error_code="AccessDenied",
                service_message="not authorized to perform sts:AssumeRole",
                http_status_code=403,
            )
            stubber.activate()
        return client

    monkeypatch.setattr(boto3, "client", refusing_sts)
    checks = run_checks(role_params())
    assert len(checks) == 1 and not checks[0].ok
    assert checks[0].permission == "sts:AssumeRole" and checks[0].denied
    assert "trust policy must allow sts:AssumeRole" in checks[0].detail
    assert "loadbay-right-id" in checks[0].detail
    assert "arn:aws:iam::123456789012:role/loadbay-tests" in checks[0].detail  # the principal
    record("access_attacks", "wrong External ID or role", outcome="refused with reason")


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254",
        "http://127.0.0.1:6379",
        "http://10.0.0.5:9000",
        "http://[::1]:80",
        "http://metadata.google.internal",
    ],
)
def test_an_endpoint_no_longer_allowed_is_refused_at_use_time(settings, endpoint: str) -> None:
    settings.S3_ALLOWED_ENDPOINTS = []
    with pytest.raises(S3AccessError, match="not allowed by this installation"):
        make_s3_client(
            S3Params(
                bucket="b",
                auth_type="access_key",
                access_key_id="A" * 20,
                access_key_secret="s" * 40,
                endpoint_url=endpoint,
            )
        )
    record("access_attacks", f"endpoint {endpoint}", outcome="refused")


def test_a_connector_whose_endpoint_was_disallowed_fails_its_run_with_a_reason(
    alice, settings
) -> None:
    settings.S3_ALLOWED_ENDPOINTS = ["http://127.0.0.1:9999"]
    connector = make_connector(alice, bucket="acme-data", endpoint="http://127.0.0.1:9999")
    settings.S3_ALLOWED_ENDPOINTS = []
    run = inline.run_inline(runs.start_run(connector, trigger="manual"))
    assert run.status == "failed" and "not allowed" in run.error


def connector_urls(pk: int) -> list[str]:
    """Every URL of the connectors and ingest apps, filled in for connector `pk`."""
    urls = []
    for namespace in ("connectors", "ingest"):
        resolver = get_resolver().namespace_dict[namespace][1]
        for pattern in resolver.url_patterns:
            route = str(pattern.pattern)
            if "<int:pk>" in route:
                urls.append(
                    "/connectors/" + route.replace("<int:pk>", str(pk)).replace("<int:run_id>", "1")
                )
    return urls


def test_charlie_gets_404_on_every_connector_url_and_action(alice, charlie) -> None:
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    client = Client()
    client.force_login(charlie)
    urls = connector_urls(connector.pk)
    missing = connector_urls(999_999)
    assert len(urls) >= 10
    for url, absent in zip(urls, missing, strict=True):
        assert client.post(url).status_code == 404, url
        # GET on a POST-only action is 405 whether or not the connector exists: no leak.
        assert client.get(url).status_code == client.get(absent).status_code, url
        assert client.get(url).status_code in {404, 405}, url
    record("access_attacks", "charlie on every connector URL", urls=len(urls), outcome="404")


def test_an_edit_share_cannot_change_whom_a_connector_is_shared_with_by_posting_anyway(
    alice, bob, team
) -> None:
    """Share Settings is no step of bob's (he may edit, not share): what he posts to it, or
    with Review, is ignored, and his edit keeps the shares."""
    connector = make_connector(alice, bucket="acme-data", endpoint="")
    connector.shares.create(group=team, access=AccessLevel.EDIT)
    grant(user=bob)
    forged = share_values(
        {team: AccessLevel.FULL, Group.objects.create(name="outsiders"): AccessLevel.FULL}
    )
    client = Client()
    client.force_login(bob)
    url = f"/connectors/{connector.pk}/edit/"
    client.get(url)
    post_step(client, url, "entity", entity_values())
    post_step(client, url, "entity_settings", entity_settings_values())
    post_step(client, url, "source", source_values(name="Profiles"))
    settings = s3_access_key_values("acme-data", access_key_secret="")
    post_step(client, url, "source_settings", settings)
    post_step(client, url, "field_mapping", field_mapping_values(), wizard_goto_step="share")
    page = post_step(client, url, "share", forged)
    assert page.status_code == 200 and page.context["wizard"]["steps"].current == "review"
    assert post_step(client, url, "review", forged).status_code == 302
    kept = {(share.group.name, share.access) for share in connector.shares.all()}
    assert kept == {("data-team", AccessLevel.EDIT)}
    record("access_attacks", "edit share posts Share Settings", outcome="ignored, shares kept")
