"""A canary Access Key Secret goes through every path; it must never show up in a page, a log
line, a session row, a Celery message or an admin page."""

import logging
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from connectors.models import Connector
from ingest import inline, runs
from tests.reliability.figures import record
from tests.support.factories import GOOD_CSV, put
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    field_mapping_values,
    post_step,
    press_sample_button,
    press_test_connection,
    s3_access_key_values,
    share_values,
    source_values,
)

CANARY = "CANARY/s3cr3t+Zq9wX7vB2nM4kL8pR6tY1uI0oP"


def assert_clean(where: str, text: str | bytes) -> None:
    data = text.decode(errors="replace") if isinstance(text, bytes) else text
    assert CANARY not in data, f"the secret leaked into {where}"
    record("secret_canary", where, clean=True)


def session_rows() -> str:
    return " ".join(f"{s.session_data} {s.get_decoded()}" for s in Session.objects.all())


def test_the_secret_never_leaves_its_encrypted_column(
    alice: Any, bucket: str, s3_endpoint: str, s3_client: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "boto3", "urllib3", "django", "celery", "ingest", "connectors"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = Client()
    client.force_login(alice)
    url = "/connectors/new/"
    pages = [client.get(url)]
    pages.append(post_step(client, url, "entity", entity_values()))
    pages.append(post_step(client, url, "entity_settings", entity_settings_values()))
    pages.append(post_step(client, url, "source", source_values()))
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    pages.append(press_test_connection(client, url, "source_settings", values))
    assert_clean("the wizard session after Test connection", session_rows())
    put(s3_client, bucket, "incoming/sample.csv", GOOD_CSV)  # Field Mapping reads it
    pages.append(post_step(client, url, "source_settings", values))
    assert_clean("the wizard session at field mapping", session_rows())
    pages.append(press_sample_button(client, url, "check", field_mapping_values()))
    pages.append(post_step(client, url, "field_mapping", field_mapping_values()))
    pages.append(post_step(client, url, "share", share_values()))
    assert_clean("the wizard session at review", session_rows())
    pages.append(press_test_connection(client, url, "review", {}))
    pages.append(post_step(client, url, "review", {}))
    connector = Connector.objects.get(owner=alice)
    assert connector.s3.access_key_secret() == CANARY

    run = inline.run_inline(runs.start_run(connector, trigger="manual"))
    for path in (
        "/connectors/",
        f"/connectors/{connector.pk}/",
        f"/connectors/{connector.pk}/edit/",
        f"/connectors/{connector.pk}/runs/",
        run.get_absolute_url(),
        run.get_absolute_url() + "report.csv",
    ):
        response = client.get(path)
        pages.append(response)
    pages.append(client.post(f"/connectors/{connector.pk}/test/"))
    for number, response in enumerate(pages):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert_clean(f"page {number} ({response.wsgi_request.path})", body)

    User.objects.create_superuser("root", "", "pw-for-tests-only")
    admin = Client()
    admin.force_login(User.objects.get(username="root"))
    for path in (
        "/admin/connectors/connector/",
        f"/admin/connectors/connector/{connector.pk}/change/",
        "/admin/connectors/s3settings/",
        "/admin/ingest/run/",
        f"/admin/ingest/run/{run.pk}/change/",
    ):
        assert_clean(f"admin {path}", admin.get(path).content)
    assert any(r.name.startswith("botocore") for r in caplog.records), "boto3 was not logging"
    assert_clean("the log records", "\n".join(r.getMessage() for r in caplog.records) + caplog.text)
    assert_clean("all sessions at the end", session_rows())


@pytest.mark.integration
def test_celery_messages_carry_ids_only(
    alice: Any, bucket: str, s3_endpoint: str, django_capture_on_commit_callbacks: Any
) -> None:
    if not settings.REDIS_URL:
        pytest.fail("This check reads Celery messages from Redis: set REDIS_URL (make test does).")
    from tests.support.factories import make_connector

    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.flushdb()
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    connector.s3.access_key_secret_encrypted = __import__("connectors.crypto").crypto.encrypt(
        CANARY
    )
    connector.s3.save()
    client = Client()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/connectors/{connector.pk}/run/")
    messages = broker.lrange("celery", 0, -1)
    assert messages, "the Run now button should have queued a task"
    for message in messages:
        assert_clean("a Celery message", message)
        assert b"ingest.tasks.run_connector" in message
    broker.flushdb()
