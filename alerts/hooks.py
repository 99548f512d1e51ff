"""What other apps call, or signal, to raise alerts: a run finished (ingest.runs.run_finished),
and a connector the system itself disabled; and rotate_secrets' re-encryption of webhook
secrets (connectors.crypto.rotating)."""

import logging
from typing import Any

from alerts import services, tasks
from connectors.models import Connector
from ingest.models import Run

logger = logging.getLogger(__name__)


def on_run_finished(sender: Any, run_id: int, **kwargs: Any) -> None:
    """Enqueue the run's alert task (ids only), if its connector has alerts for runs."""
    connector_id = Run.objects.filter(pk=run_id).values_list("connector_id", flat=True).first()
    if connector_id is not None and services.wants_run_alerts(connector_id):
        tasks.alert_run_finished.delay(run_id)


def connector_disabled_by_system(connector: Connector, reason: str) -> None:
    """Call where Loadbay itself sets Connector.enabled=False, saying why. Nothing in Loadbay
    disables a connector today, so nothing calls this yet (README, "Alerts")."""
    alert = services.alert_connector_disabled(connector, reason)
    if alert is not None:
        tasks.dispatch(alert)


def rotate_webhook_secrets(sender: Any, **kwargs: Any) -> int:
    """Re-encrypt every webhook secret under the newest key; how many."""
    return services.rotate_webhook_secrets()
