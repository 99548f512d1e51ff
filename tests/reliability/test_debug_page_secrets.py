"""With DEBUG on (what `make run` writes), an error deep inside any path that holds an Access
Key Secret renders Django's technical 500 page, or an error report for a worker: the canary
secret must not be in it, whoever sees it (here bob, who has an edit share of alice's
connector)."""

import logging
import sys
from collections.abc import Callable
from typing import Any

import boto3
import botocore.auth
import botocore.client
import cryptography.fernet
import pytest
from cryptography.fernet import MultiFernet
from django import forms
from django.core import mail
from django.test import Client, RequestFactory
from django.utils.log import AdminEmailHandler
from django.views.debug import get_exception_reporter_class

import connectors.aws
import connectors.sources.s3
from connectors import crypto
from connectors.aws import (
    S3Params,
    _assume_role,
    credentials_for,
    make_s3_client,
    shared_s3_client,
)
from connectors.models import AccessLevel, Connector, ConnectorShare
from connectors.preflight import run_checks
from connectors.sources.s3 import _params_from, params_for_connector
from connectors.sources.s3_form import S3SettingsForm
from ingest import inline, listing, runs
from tests.reliability.figures import record
from tests.support.factories import GOOD_CSV, grant, make_connector, put
from tests.support.wizard import (
    entity_settings_values,
    entity_values,
    post_step,
    press_test_connection,
    s3_access_key_values,
    source_values,
    through_to_review,
)

CANARY = "CANARY/d3bug+Pg7vK2xQ9mL4nR8tW1yZ5"
NEW = "/connectors/new/"
LOCMEM = "django.core.cache.backends.locmem.LocMemCache"
# Kept out of the lines around any frame of a report, which the report quotes.
URL_PASSWORD = "url-pw-" + CANARY.lower()
REDIS_URL = f"redis://:{URL_PASSWORD}@cache.internal:6379/0"
DATABASE_URL = f"postgres://loadbay:{URL_PASSWORD}@db.internal/loadbay"


class Boom(Exception):
    """An error nobody catches, raised deep inside a library."""


@pytest.fixture(autouse=True)
def debug_on(settings: Any) -> None:
    settings.DEBUG = True


@pytest.fixture
def signing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every S3 request fails while it is signed, below the frame that holds the secret (as
    `key`, in botocore's SigV4Auth.signature)."""

    def fail(*args: Any, **kwargs: Any) -> bytes:
        raise Boom("signing failed")

    monkeypatch.setattr(botocore.auth.SigV4Auth, "_sign", fail)


@pytest.fixture
def client_building_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3 gets the secret as aws_secret_access_key, then fails to build the client."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom("building the client failed")

    monkeypatch.setattr(botocore.client.ClientCreator, "create_client", fail)


@pytest.fixture
def connector(alice: Any, bucket: str, s3_endpoint: str) -> Connector:
    """alice's connector, whose secret is the canary (moto accepts any)."""
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint)
    connector.s3.access_key_secret_encrypted = crypto.encrypt(CANARY)
    connector.s3.save()
    return connector


@pytest.fixture
def bob_edits(bob: Any, team: Any, connector: Connector) -> Client:
    ConnectorShare.objects.create(connector=connector, group=team, access=AccessLevel.EDIT)
    grant(group=team)  # editors need write access to the entity too
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    return client


def assert_no_secret(where: str, page: str | bytes) -> None:
    text = page.decode(errors="replace") if isinstance(page, bytes) else page
    assert "Boom" in text or "SessionToken" in text, f"{where}: not the error report expected"
    assert CANARY not in text, f"the secret is in the error report of {where}"
    record("debug_page_secrets", where, clean=True)


def assert_500_without_secret(where: str, response: Any) -> None:
    assert response.status_code == 500, f"{where}: expected the technical 500 page"
    assert b"Traceback" in response.content, "DEBUG is on: the technical 500 page is expected"
    assert_no_secret(where, response.content)


def report_of(call: Callable[[], Any], request: Any = None) -> str:
    """Django's error report (HTML and text, by the reporter the 500 page and AdminEmailHandler
    use) of the exception `call` raises."""
    try:
        call()
    except Exception:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        return reporter.get_traceback_html() + reporter.get_traceback_text()
    raise AssertionError("the call was expected to fail")


def wizard_at_source_settings(client: Client) -> None:
    client.get(NEW)
    post_step(client, NEW, "entity", entity_values())
    post_step(client, NEW, "entity_settings", entity_settings_values())
    post_step(client, NEW, "source", source_values())


# --- pages -----------------------------------------------------------------------------------


def test_the_wizard_step_4_page_hides_the_secret_typed(
    alice: Any, bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    wizard_at_source_settings(client)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom("encryption failed")

    monkeypatch.setattr(MultiFernet, "encrypt", fail)
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    response = post_step(client, NEW, "source_settings", values)
    assert_500_without_secret("the wizard's step 4 (Next)", response)


def test_the_wizard_step_4_test_connection_page_hides_the_secret(
    alice: Any, bucket: str, s3_endpoint: str, signing_fails: None
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    wizard_at_source_settings(client)
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    response = press_test_connection(client, NEW, "source_settings", values)
    assert_500_without_secret("the wizard's step 4 Test connection", response)


def test_the_wizard_review_test_connection_page_hides_the_secret(
    alice: Any, bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    wizard_at_source_settings(client)
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    assert post_step(client, NEW, "source_settings", values).status_code == 200
    assert through_to_review(client, NEW).status_code == 200

    def fail(*args: Any, **kwargs: Any) -> bytes:
        raise Boom("signing failed")

    monkeypatch.setattr(botocore.auth.SigV4Auth, "_sign", fail)
    response = press_test_connection(client, NEW, "review", {})
    assert_500_without_secret("the wizard's Review Test connection", response)


def test_the_wizard_field_mapping_page_reading_a_sample_hides_the_secret(
    alice: Any, bucket: str, s3_endpoint: str, signing_fails: None
) -> None:
    """Field Mapping lists and reads a sample with step 4's secret, decrypted in memory."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    wizard_at_source_settings(client)
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    response = post_step(client, NEW, "source_settings", values)
    assert_500_without_secret("the wizard's Field Mapping (its sample)", response)


def test_the_connector_test_page_hides_the_owners_secret_from_an_editor(
    connector: Connector, bob_edits: Client, signing_fails: None
) -> None:
    response = bob_edits.post(f"/connectors/{connector.pk}/test/")
    assert_500_without_secret("Test connection of a saved connector (bob)", response)


def test_the_edit_wizard_hides_the_owners_secret_from_an_editor(
    connector: Connector, bob_edits: Client, signing_fails: None
) -> None:
    url = f"/connectors/{connector.pk}/edit/"
    bob_edits.get(url)
    post_step(bob_edits, url, "entity", entity_values())
    post_step(bob_edits, url, "entity_settings", entity_settings_values())
    post_step(bob_edits, url, "source", source_values(name=connector.name))
    values = s3_access_key_values(connector.s3.bucket, endpoint=connector.s3.endpoint_url)
    values["access_key_secret"] = ""  # bob keeps alice's stored secret
    response = press_test_connection(bob_edits, url, "source_settings", values)
    assert_500_without_secret("the edit wizard's Test connection (bob)", response)


def test_the_wizard_page_hides_the_secret_while_django_cleans_the_field(
    alice: Any, bucket: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django's own field cleaning holds the typed secret as `value`, above any function of
    ours: the wizard view's marking covers it."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    wizard_at_source_settings(client)
    to_python = forms.CharField.to_python

    def failing_to_python(self: forms.CharField, value: Any) -> Any:
        if value == CANARY:
            raise Boom("cleaning failed")
        return to_python(self, value)

    monkeypatch.setattr(forms.CharField, "to_python", failing_to_python)
    values = s3_access_key_values(bucket, endpoint=s3_endpoint, access_key_secret=CANARY)
    response = post_step(client, NEW, "source_settings", values)
    assert_500_without_secret("the wizard's step 4 (Django's field cleaning)", response)


# --- error reports of code run outside a request ---------------------------------------------


def test_encrypting_hides_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom("encryption failed")

    monkeypatch.setattr(MultiFernet, "encrypt", fail)
    assert_no_secret("crypto.encrypt", report_of(lambda: crypto.encrypt(CANARY)))


def test_decrypting_hides_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    token = crypto.encrypt(CANARY)

    class FailingPadding:
        def unpadder(self) -> Any:
            raise Boom("unpadding failed")  # the plaintext is decrypted, still padded

    monkeypatch.setattr(cryptography.fernet, "_PKCS7_128", FailingPadding())
    assert_no_secret("crypto.decrypt", report_of(lambda: crypto.decrypt(token)))


def test_rotating_hides_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    token = crypto.encrypt(CANARY)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom("encryption failed")  # the plaintext is decrypted, not yet encrypted

    monkeypatch.setattr(cryptography.fernet.Fernet, "_encrypt_from_parts", fail)
    assert_no_secret("crypto.rotate", report_of(lambda: crypto.rotate(token)))


def test_the_settings_form_hides_the_secret_it_encrypts(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise Boom("encryption failed")

    monkeypatch.setattr(MultiFernet, "encrypt", fail)
    data = s3_access_key_values("acme-data", access_key_secret=CANARY)
    form = S3SettingsForm(data=data)
    assert_no_secret("S3SettingsForm.clean_access_key_secret", report_of(form.is_valid))


def test_building_s3_params_from_the_wizard_hides_the_decrypted_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(**kwargs: Any) -> S3Params:
        raise Boom("building S3Params failed")

    monkeypatch.setattr(connectors.sources.s3, "S3Params", fail)
    values = {"bucket": "b", "auth_type": "access_key", "access_key_secret": crypto.encrypt(CANARY)}
    report = report_of(lambda: _params_from(values, "loadbay-ext", "loadbay-connection-test"))
    assert_no_secret("decrypting the wizard's token into S3Params", report)


def canary_params(endpoint: str, bucket: str = "b", **overrides: Any) -> S3Params:
    values: dict[str, Any] = {
        "bucket": bucket,
        "auth_type": "access_key",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "access_key_secret": CANARY,
        "endpoint_url": endpoint,
        **overrides,
    }
    return S3Params(**values)


def test_building_s3_params_hides_the_decrypted_secret(
    connector: Connector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(**kwargs: Any) -> S3Params:
        raise Boom("building S3Params failed")

    monkeypatch.setattr(connectors.sources.s3, "S3Params", fail)
    report = report_of(lambda: params_for_connector(connector))
    assert_no_secret("decrypting the secret into S3Params", report)


def test_make_s3_client_hides_the_secret(s3_endpoint: str, client_building_fails: None) -> None:
    report = report_of(lambda: make_s3_client(canary_params(s3_endpoint)))
    assert_no_secret("make_s3_client", report)


def test_shared_s3_client_hides_the_secret(s3_endpoint: str, client_building_fails: None) -> None:
    report = report_of(lambda: shared_s3_client(canary_params(s3_endpoint)))
    assert_no_secret("shared_s3_client", report)


def test_the_shared_clients_fingerprint_hides_the_secret(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FailingHashlib:
        def sha256(self, data: bytes) -> Any:
            raise Boom("hashing failed")  # the settings, secret included, are being digested

    monkeypatch.setattr(connectors.aws, "hashlib", FailingHashlib())
    report = report_of(lambda: shared_s3_client(canary_params(s3_endpoint)))
    assert_no_secret("shared_s3_client's fingerprint", report)


@pytest.mark.parametrize("function", [credentials_for, _assume_role])
def test_assuming_a_role_hides_the_temporary_secret(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, function: Callable[[S3Params], Any]
) -> None:
    class IncompleteSts:
        def assume_role(self, **kwargs: Any) -> dict[str, Any]:
            # No SessionToken: reading the answer fails after its secret is in hand.
            return {"Credentials": {"AccessKeyId": "ASIATEMPORARY0001", "SecretAccessKey": CANARY}}

    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: IncompleteSts())
    params = canary_params(
        s3_endpoint,
        auth_type="iam_role",
        access_key_secret="",
        iam_role_arn="arn:aws:iam::123456789012:role/loadbay",
    )
    report = report_of(lambda: function(params))
    assert_no_secret(f"{function.__name__} (STS's secret)", report)


def test_test_connection_outside_a_request_hides_the_secret(
    bucket: str, s3_endpoint: str, signing_fails: None
) -> None:
    report = report_of(lambda: run_checks(canary_params(s3_endpoint, bucket=bucket)))
    assert_no_secret("preflight.run_checks", report)


def logged_failure(caplog: pytest.LogCaptureFixture) -> Any:
    """The exc_info of the error a run logged (what AdminEmailHandler would report)."""
    (logged,) = [r for r in caplog.records if r.exc_info and r.name.startswith("ingest")]
    return logged.exc_info


def test_a_run_listing_its_source_hides_the_secret(
    connector: Connector, signing_fails: None, caplog: pytest.LogCaptureFixture
) -> None:
    run = runs.start_run(connector, trigger="manual")
    failed = listing.execute_run(run.pk, dispatch=lambda *a: None)
    assert failed.status == "failed" and "Boom" in failed.error
    reporter = get_exception_reporter_class(None)(None, *logged_failure(caplog))
    report = reporter.get_traceback_html() + reporter.get_traceback_text()
    assert_no_secret("ingest execute_run", report)


def test_a_batch_reading_its_file_hides_the_secret(
    connector: Connector, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3_client, connector.s3.bucket, "incoming/good.csv", GOOD_CSV)
    run = runs.start_run(connector, trigger="manual")
    batches: list[list[int]] = []
    listing.execute_run(run.pk, dispatch=lambda run_id, ids: batches.append(ids))
    assert batches, "the file should have been claimed"

    def fail(*args: Any, **kwargs: Any) -> bytes:
        raise Boom("signing failed")

    monkeypatch.setattr(botocore.auth.SigV4Auth, "_sign", fail)
    report = report_of(lambda: inline.process_batch(run.pk, batches[0]))
    assert_no_secret("ingest process_batch", report)


def test_the_admin_email_of_a_failed_run_hides_the_secret(
    connector: Connector, signing_fails: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ADMINS = [("Ops", "ops@example.com")]
    run = runs.start_run(connector, trigger="manual")
    listing.execute_run(run.pk, dispatch=lambda *a: None)
    record_ = logging.LogRecord("ingest", logging.ERROR, __file__, 1, "run failed", (), None)
    record_.exc_info = logged_failure(caplog)
    AdminEmailHandler(include_html=True).emit(record_)
    (email,) = mail.outbox
    html = email.alternatives[0][0] if email.alternatives else ""
    assert_no_secret("AdminEmailHandler's e-mail", email.body + str(html))


# --- what else the page prints ---------------------------------------------------------------


def test_passwords_in_url_settings_and_environment_are_hidden(settings: Any) -> None:
    settings.REDIS_URL = REDIS_URL
    settings.CACHES = {"default": {"BACKEND": LOCMEM, "LOCATION": REDIS_URL}}
    request = RequestFactory().get("/", DATABASE_URL=DATABASE_URL)

    def fail() -> None:
        raise Boom("any error")

    report = report_of(fail, request=request)
    assert "cache.internal" in report and "db.internal" in report
    assert URL_PASSWORD not in report
    record("debug_page_secrets", "passwords in URL settings and environment", clean=True)
