"""Celery tasks of alerts (thin, ids only: never a secret), with their retry policies.

Retries (README, "Retries"): EMAIL_RETRY retries sending an e-mail on a connection or SMTP
error; WEBHOOK_RETRY retries a webhook delivery that failed on a connection error, a timeout,
a 5xx or a 429 (alerts.webhooks.WebhookTransient): 6 more tries, backing off 10, 20, 40… s
(full jitter, at most 10 minutes), each attempt recorded; a 4xx, a redirect, a certificate
that does not verify or a URL the SSRF rules refuse is recorded and not retried.
"""

import smtplib
from typing import Any

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError, transaction

from alerts import services, webhooks
from alerts.models import Alert

DATABASE_TRANSIENT = (OperationalError, InterfaceError)
EMAIL_RETRY = {
    "autoretry_for": (smtplib.SMTPException, OSError, *DATABASE_TRANSIENT),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}
WEBHOOK_RETRY = {
    "autoretry_for": (webhooks.WebhookTransient, *DATABASE_TRANSIENT),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
    "acks_late": True,
}
ALERT_RETRY = {
    "autoretry_for": DATABASE_TRANSIENT,
    "retry_backoff": 2,
    "max_retries": 5,
    "acks_late": True,
}


def dispatch(alert: Alert) -> None:
    """Send the alert by e-mail and webhook, from their own tasks, once it is committed."""
    alert_id = alert.pk

    def enqueue() -> None:
        send_alert_email.delay(alert_id)
        deliver_webhook.delay(alert_id)

    transaction.on_commit(enqueue)


@shared_task(**ALERT_RETRY)
def alert_run_finished(run_id: int) -> None:
    """A run has finished: alert on it if its connector asked for that."""
    alert = services.alert_for_run(run_id)
    if alert is not None:
        dispatch(alert)


@shared_task(acks_late=True)
def check_files_not_moved() -> None:
    """Beat (CELERY_BEAT_SCHEDULE): alert once on each file not moved for too long."""
    for alert in services.files_not_moved_alerts():
        dispatch(alert)


@shared_task(bind=True, **EMAIL_RETRY)
def send_alert_email(self: Task, alert_id: int) -> Any:
    try:
        services.send_email(alert_id)
    except (smtplib.SMTPException, OSError) as exc:
        services.record_email_failure(alert_id, f"{type(exc).__name__}: {exc}")
        raise


@shared_task(bind=True, **WEBHOOK_RETRY)
def deliver_webhook(self: Task, alert_id: int) -> Any:
    webhooks.deliver(
        alert_id,
        attempt=self.request.retries + 1,
        last_try=self.request.retries >= self.max_retries,
    )
