"""The alerts app: listens for finished runs (ingest.runs.run_finished) and for rotate_secrets
(connectors.crypto.rotating) once Django is ready."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts import hooks
        from connectors.crypto import rotating
        from ingest.runs import run_finished

        run_finished.connect(hooks.on_run_finished, dispatch_uid="alerts.run_finished")
        rotating.connect(hooks.rotate_webhook_secrets, dispatch_uid="alerts.rotating")
