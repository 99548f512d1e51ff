"""Alerts' business logic: saving a connector's alert settings and its webhook secret, deciding
whether a finished run, files not moved or a disabled connector call for an alert (at most
one per run, one per file not moved), and sending an alert's e-mail."""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from alerts import messages
from alerts.models import Alert, AlertEvent, AlertSettings, NotMovedNotice
from connectors import crypto
from connectors.models import Connector
from ingest.models import Run, RunStatus, SourceFile
from ingest.runs import NOT_MOVED

logger = logging.getLogger(__name__)


def settings_of(connector: Connector) -> AlertSettings | None:
    return AlertSettings.objects.filter(connector=connector).first()


def save_settings(
    connector: Connector,
    *,
    recipients: list[str],
    webhook_url: str,
    events: set[str],
    not_moved_hours: int,
) -> tuple[AlertSettings, str | None]:
    """Save the connector's alert settings (the URL already checked by the form); a webhook
    URL without a secret gets a new one. Returns the settings and that new secret (plain
    text, to be shown once and never again), or None."""
    config = settings_of(connector) or AlertSettings(connector=connector)
    config.email_recipients = "\n".join(recipients)
    config.webhook_url = webhook_url
    for event in AlertEvent:
        setattr(config, f"on_{event.value}", event.value in events)
    config.not_moved_hours = not_moved_hours
    new_secret = None
    if webhook_url and not config.has_secret:
        new_secret = _new_secret(config)
    config.save()
    return config, new_secret


@sensitive_variables()
def regenerate_secret(config: AlertSettings) -> str:
    """A new webhook secret, stored encrypted; returned once, in plain text, to be shown."""
    secret = _new_secret(config)
    config.save(update_fields=["webhook_secret_encrypted", "updated_at"])
    return secret


@sensitive_variables()
def _new_secret(config: AlertSettings) -> str:
    secret = "lbwh_" + secrets.token_urlsafe(32)
    config.webhook_secret_encrypted = crypto.encrypt(secret)
    return secret


def rotate_webhook_secrets() -> int:
    """Re-encrypt every stored webhook secret under the newest key (rotate_secrets)."""
    configs = AlertSettings.objects.exclude(webhook_secret_encrypted="").select_for_update()
    count = 0
    for config in configs:
        config.webhook_secret_encrypted = crypto.rotate(config.webhook_secret_encrypted)
        config.save(update_fields=["webhook_secret_encrypted"])
        count += 1
    return count


def wants_run_alerts(connector_id: int) -> bool:
    """Whether a finished run of the connector may call for an alert (cheap: one query)."""
    return (
        AlertSettings.objects.filter(connector_id=connector_id)
        .filter(Q(on_run_failed=True) | Q(on_files_failed=True))
        .exists()
    )


def event_for_run(run: Run, config: AlertSettings) -> str | None:
    """The one event a finished run is alerted as, if the connector chose it."""
    if run.status == RunStatus.FAILED and config.on_run_failed:
        return AlertEvent.RUN_FAILED
    if run.files_failed and config.on_files_failed:
        return AlertEvent.FILES_FAILED
    return None


def alert_for_run(run_id: int) -> Alert | None:
    """The run's alert, made once (None: no alert called for, or made before)."""
    run = Run.objects.select_related("connector__entity_type").filter(pk=run_id).first()
    if run is None or run.finished_at is None:
        return None
    config = settings_of(run.connector)
    if config is None:
        return None
    event = event_for_run(run, config)
    if event is None or Alert.objects.filter(run=run).exists():
        return None
    message = messages.for_run(run, event)
    try:
        with transaction.atomic():
            return _create(run.connector, event, message, run=run)
    except IntegrityError:
        return None  # another process made it meanwhile


def files_not_moved_alerts(*, now: datetime | None = None) -> list[Alert]:
    """For each connector that chose the event: the files ingested more than its N hours ago
    and still not where the rules say that no alert has named yet, in one alert each."""
    now = now or timezone.now()
    made = []
    for config in AlertSettings.objects.filter(on_files_not_moved=True).select_related(
        "connector__entity_type"
    ):
        cutoff = now - timedelta(hours=config.not_moved_hours)
        waiting = SourceFile.objects.filter(
            NOT_MOVED, connector_id=config.connector_id, ingested_at__lt=cutoff
        )
        with transaction.atomic():
            new = list(
                waiting.exclude(pk__in=NotMovedNotice.objects.values("source_file_id"))
                .select_related("run")
                .order_by("id")
            )
            if not new:
                continue
            message = messages.for_files_not_moved(
                config.connector, new, waiting.count(), config.not_moved_hours
            )
            alert = _create(config.connector, AlertEvent.FILES_NOT_MOVED, message)
            NotMovedNotice.objects.bulk_create(
                [NotMovedNotice(source_file=f, alert=alert) for f in new], ignore_conflicts=True
            )
        made.append(alert)
    return made


def alert_connector_disabled(connector: Connector, reason: str) -> Alert | None:
    """The alert for a connector the system itself disabled, if its settings choose it."""
    config = settings_of(connector)
    if config is None or not config.on_connector_disabled:
        return None
    message = messages.for_connector_disabled(connector, reason)
    return _create(connector, AlertEvent.CONNECTOR_DISABLED, message)


def _create(
    connector: Connector, event: str, message: messages.Message, run: Run | None = None
) -> Alert:
    alert = Alert.objects.create(
        connector=connector,
        event=event,
        run=run,
        subject=message.subject[:255],
        body=message.body,
        payload=message.payload,
    )
    alert.payload = {"alert_id": alert.pk, **message.payload}
    alert.save(update_fields=["payload"])
    return alert


def send_email(alert_id: int) -> bool:
    """Send the alert's e-mail to the connector's recipients unless it was sent; whether it
    was sent now. An SMTP error is raised for the task to retry. No transaction is held while
    the mail server answers (SQLite would stay locked meanwhile)."""
    alert = Alert.objects.select_related("connector").filter(pk=alert_id).first()
    if alert is None or alert.email_sent_at is not None:
        return False
    config = settings_of(alert.connector)
    recipients = config.recipients if config else []
    if not recipients:
        return False
    EmailMessage(
        subject=alert.subject,
        body=alert.body,
        from_email=settings.LOADBAY_ALERT_FROM_EMAIL,
        to=recipients,
    ).send()
    Alert.objects.filter(pk=alert.pk).update(email_sent_at=timezone.now(), email_error="")
    logger.info("alert %s (%s) e-mailed to %s recipient(s)", alert.pk, alert.event, len(recipients))
    return True


def record_email_failure(alert_id: int, error: str) -> None:
    Alert.objects.filter(pk=alert_id).update(email_error=error[:1000])
