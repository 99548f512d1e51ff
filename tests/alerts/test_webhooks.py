"""Webhook deliveries to a real receiver on loopback (allowed by the setting in these tests):
the signature verifies over the timestamp and the raw body, a 500 is retried and then
succeeds, a redirect is not followed, each attempt is recorded, and the SSRF rules are
checked again at send time (the host's address may have changed since it was saved); the
delivery connects to the address it checked, never the secret in a log."""

import hashlib
import hmac
import json
import logging
import ssl
from pathlib import Path

import pytest

from alerts import services, tasks, webhooks
from alerts.models import Alert, AlertEvent, WebhookAttempt
from alerts.webhooks import signature
from tests.alerts.conftest import BASE_URL
from tests.support.tls import make_certificates
from tests.support.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.django_db


def hook_up(connector, url: str) -> str:
    """Point the connector's alerts at `url`; its new secret."""
    _, secret = services.save_settings(
        connector,
        recipients=[],
        webhook_url=url,
        events={AlertEvent.RUN_FAILED, AlertEvent.FILES_FAILED},
        not_moved_hours=24,
    )
    assert secret is not None
    return secret


def alert_of(failed_run) -> Alert:
    alert = services.alert_for_run(failed_run().pk)
    assert alert is not None
    return alert


def test_the_receiver_verifies_the_signature_over_timestamp_and_raw_body(
    connector, failed_run, receiver, settings
) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [receiver.url]
    secret = hook_up(connector, receiver.url + "/hooks/loadbay?team=data")
    alert = alert_of(failed_run)
    tasks.deliver_webhook.delay(alert.pk)

    [request] = receiver.requests
    assert request.path == "/hooks/loadbay?team=data"
    timestamp = request.headers["X-Loadbay-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers["X-Loadbay-Signature"] == "sha256=" + expected.hexdigest()
    assert request.headers["X-Loadbay-Signature"] != signature(
        "another secret", timestamp, request.body
    )
    assert request.headers["X-Loadbay-Event"] == "run_failed"
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.body)
    assert payload["event"] == "run_failed" and payload["alert_id"] == alert.pk
    assert payload["connector"]["name"] == "Profiles"
    assert payload["run"]["url"] == f"{BASE_URL}{alert.run.get_absolute_url()}"
    assert payload["run"]["error"].startswith("Listing the source directory failed")
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.attempt, attempt.status_code, attempt.delivered) == (1, 200, True)

    # README's verification snippet accepts it, and refuses a changed body or another secret.
    verify = readme_verify()
    assert verify(secret, request.headers, request.body)
    assert not verify(secret, request.headers, request.body + b" ")
    assert not verify("lbwh_another", request.headers, request.body)


def readme_verify():
    """The `verify` function of README's "Alerts" section, as a receiver would copy it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "def verify(" in code
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own README)
    return namespace["verify"]


def test_a_500_is_retried_with_backoff_and_then_succeeds(
    connector, failed_run, receiver, settings
) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [receiver.url]
    hook_up(connector, receiver.url + "/hook")
    receiver.statuses = [500, 429]
    alert = alert_of(failed_run)
    tasks.deliver_webhook.delay(alert.pk)

    assert len(receiver.requests) == 3
    attempts = list(
        WebhookAttempt.objects.order_by("id").values_list("attempt", "status_code", "delivered")
    )
    assert attempts == [(1, 500, False), (2, 429, False), (3, 200, True)]
    # Each attempt is signed afresh, with its own timestamp header.
    assert all("X-Loadbay-Timestamp" in r.headers for r in receiver.requests)
    assert tasks.WEBHOOK_RETRY["retry_backoff"] and tasks.WEBHOOK_RETRY["max_retries"] >= 3


def test_a_delivery_that_keeps_failing_stops_after_its_last_try(
    connector, failed_run, receiver, settings
) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [receiver.url]
    hook_up(connector, receiver.url + "/hook")
    receiver.statuses = [503] * 20
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)
    tries = tasks.deliver_webhook.max_retries + 1
    assert len(receiver.requests) == tries
    assert WebhookAttempt.objects.filter(delivered=False, status_code=503).count() == tries


def test_a_redirect_or_a_4xx_is_recorded_and_not_retried(
    connector, failed_run, receiver, settings
) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [receiver.url]
    hook_up(connector, receiver.url + "/hook")
    receiver.statuses = [302]
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)
    assert [r.path for r in receiver.requests] == ["/hook"]  # /redirected never asked for
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.error) == (302, "Redirect not followed.")

    receiver.statuses = [404]
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)
    assert len(receiver.requests) == 2
    assert WebhookAttempt.objects.filter(status_code=404).count() == 1


def test_a_connection_refused_is_recorded_and_retried(connector, failed_run, settings) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = ["http://127.0.0.1:9"]
    hook_up(connector, "http://127.0.0.1:9/hook")  # the discard port: nothing listens
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)
    attempts = WebhookAttempt.objects.all()
    assert attempts.count() == tasks.deliver_webhook.max_retries + 1
    assert all(a.status_code is None and "refused" in a.error.lower() for a in attempts)


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254", "10.1.2.3"])
def test_a_host_that_resolves_to_a_non_public_address_at_send_time_is_refused(
    connector, failed_run, receiver, resolves, address
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    resolves["hooks.example.com"] = ["93.184.215.14"]  # public when saved
    hook_up(connector, f"http://hooks.example.com:{port}/hook")
    resolves["hooks.example.com"] = [address]  # DNS changed since
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)

    assert receiver.requests == []
    [attempt] = WebhookAttempt.objects.all()  # refused: recorded, not retried
    assert attempt.error.startswith("Not sent: The webhook URL's host hooks.example.com")
    assert f"resolves to {address})" in attempt.error and not attempt.delivered


def test_the_delivery_connects_to_the_address_it_checked_naming_the_host(
    connector, failed_run, receiver, resolves, settings
) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    resolves["hooks.internal.example"] = ["127.0.0.1"]
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [f"http://hooks.internal.example:{port}"]
    hook_up(connector, f"http://hooks.internal.example:{port}/hook")
    tasks.deliver_webhook.delay(alert_of(failed_run).pk)
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.internal.example:{port}"


def test_the_secret_is_never_logged_nor_in_task_arguments(
    connector,
    failed_run,
    receiver,
    settings,
    caplog,
    monkeypatch,
    django_capture_on_commit_callbacks,
) -> None:
    settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [receiver.url]
    enqueued: list[tuple] = []
    original = tasks.deliver_webhook.delay
    monkeypatch.setattr(
        tasks.deliver_webhook, "delay", lambda *a: (enqueued.append(a), original(*a))
    )
    caplog.set_level(logging.DEBUG)
    secret = hook_up(connector, receiver.url + "/hook")
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        tasks.dispatch(alert_of(failed_run))
    assert len(receiver.requests) == 2
    assert enqueued and all(secret not in repr(args) for args in enqueued)
    assert "webhook alert" in caplog.text
    assert secret not in caplog.text
    assert connector.alert_settings.webhook_secret_encrypted.startswith("lbenc1:")
    assert secret not in connector.alert_settings.webhook_secret_encrypted


def test_https_connects_to_the_checked_address_and_verifies_the_hosts_certificate(
    connector, failed_run, resolves, settings, monkeypatch, tmp_path
) -> None:
    certificates = make_certificates(tmp_path, "hooks.internal.example")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(certificates.cert_file, certificates.key_file)
    client_tls = ssl.create_default_context(cafile=str(certificates.ca_file))
    monkeypatch.setattr(webhooks, "tls_context", lambda: client_tls)
    with webhook_receiver(server_tls) as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        resolves["hooks.internal.example"] = resolves["other.internal.example"] = ["127.0.0.1"]
        settings.LOADBAY_WEBHOOK_ALLOWED_ENDPOINTS = [
            f"https://hooks.internal.example:{port}",
            f"https://other.internal.example:{port}",
        ]
        hook_up(connector, f"https://hooks.internal.example:{port}/hook")
        tasks.deliver_webhook.delay(alert_of(failed_run).pk)
        [request] = receiver.requests
        assert request.headers["Host"] == f"hooks.internal.example:{port}"

        # The same server under a name its certificate does not carry: refused, not sent.
        hook_up_again = services.save_settings(
            connector,
            recipients=[],
            webhook_url=f"https://other.internal.example:{port}/hook",
            events={AlertEvent.RUN_FAILED},
            not_moved_hours=24,
        )
        assert hook_up_again[1] is None  # the secret is kept
        tasks.deliver_webhook.delay(alert_of(failed_run).pk)
        assert len(receiver.requests) == 1
        [failed] = WebhookAttempt.objects.filter(delivered=False)  # not retried
        assert failed.error.startswith("TLS refused:")
        assert "other.internal.example" in failed.error
