"""Delivering an alert to its connector's webhook: the JSON body, its signature, one attempt
(to the address alerts.targets checked), and the record of every attempt.

Signature scheme (README, "Alerts"): with the connector's secret as the key,
`X-Loadbay-Signature: sha256=<hex HMAC-SHA256 of "<X-Loadbay-Timestamp>." + raw body>`, where
X-Loadbay-Timestamp is the Unix time of the attempt; a receiver recomputes it over the bytes
it received and refuses old timestamps, so a captured request cannot be replayed later.
"""

import hashlib
import hmac
import json
import logging
import ssl
import time
from dataclasses import dataclass

import urllib3
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from alerts.models import Alert, AlertSettings, WebhookAttempt
from alerts.targets import HostNotResolved, Target, WebhookRefused, check
from connectors.crypto import SecretUnreadable

logger = logging.getLogger(__name__)
USER_AGENT = "Loadbay-Webhook/1"
MAX_RESPONSE_BYTES = 4096  # read of a receiver's answer, then the connection is dropped


class WebhookTransient(Exception):
    """This attempt failed in a way worth trying again (connection, timeout, 5xx, 429)."""


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str
    transient: bool


def body_of(alert: Alert) -> bytes:
    return json.dumps(alert.payload, separators=(",", ":"), sort_keys=True).encode()


@sensitive_variables()
def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@sensitive_variables()
def deliver(alert_id: int, *, attempt: int, last_try: bool) -> Outcome | None:
    """Try once to deliver the alert and record the attempt; WebhookTransient if it failed in
    a way worth another try (unless this is the last). None if there is nothing to deliver."""
    alert = Alert.objects.select_related("connector").filter(pk=alert_id).first()
    if alert is None or alert.attempts.filter(delivered=True).exists():
        return None
    config = AlertSettings.objects.filter(connector_id=alert.connector_id).first()
    if config is None or not config.webhook_url:
        return None
    outcome = _attempt(alert, config)
    WebhookAttempt.objects.create(
        alert=alert,
        connector_id=alert.connector_id,
        attempt=attempt,
        status_code=outcome.status_code,
        error=outcome.error,
        delivered=outcome.delivered,
    )
    logger.info(
        "webhook alert %s (%s) attempt %s: %s",
        alert.pk,
        alert.event,
        attempt,
        outcome.status_code or outcome.error,
    )
    if outcome.transient and not last_try:
        raise WebhookTransient(outcome.error or f"HTTP {outcome.status_code}")
    return outcome


@sensitive_variables()
def _attempt(alert: Alert, config: AlertSettings) -> Outcome:
    try:
        target = check(config.webhook_url)
    except HostNotResolved as exc:
        return Outcome(False, None, str(exc), transient=True)
    except WebhookRefused as exc:
        return Outcome(False, None, f"Not sent: {exc}", transient=False)
    try:
        secret = config.webhook_secret()
    except SecretUnreadable as exc:
        return Outcome(False, None, f"Not sent: the webhook secret is unreadable ({exc}).", False)
    body = body_of(alert)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Loadbay-Event": alert.event,
        "X-Loadbay-Delivery": str(alert.pk),
        "X-Loadbay-Timestamp": timestamp,
        "X-Loadbay-Signature": signature(secret, timestamp, body),
    }
    try:
        status = _post(target, body, headers)
    except urllib3.exceptions.SSLError as exc:
        # A certificate that does not verify will not verify on the next try either.
        return Outcome(False, None, f"TLS refused: {_reason(exc)}", transient=False)
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {_reason(exc)}", transient=True)
    except OSError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}", transient=True)
    if 200 <= status < 300:
        return Outcome(True, status, "", transient=False)
    if 300 <= status < 400:
        return Outcome(False, status, "Redirect not followed.", transient=False)
    return Outcome(False, status, "", transient=status >= 500 or status == 429)


def tls_context() -> ssl.SSLContext:
    """The system's certificate authorities, certificates and host names verified."""
    return ssl.create_default_context()


def _post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST to the checked address, naming the URL's host (Host header, TLS server name and
    certificate check); no redirect followed, no retry here, short timeouts."""
    timeout = urllib3.Timeout(
        connect=settings.LOADBAY_WEBHOOK_CONNECT_TIMEOUT, read=settings.LOADBAY_WEBHOOK_READ_TIMEOUT
    )
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            ssl_context=tls_context(),
            server_hostname=target.host.strip("[]"),
            assert_hostname=target.host.strip("[]"),
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, maxsize=1)
    default_port = {"http": 80, "https": 443}[target.scheme]
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        response.read(MAX_RESPONSE_BYTES)
        response.release_conn()
        return int(response.status)
    finally:
        pool.close()


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)[:300]
