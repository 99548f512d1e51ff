"""The alerts app: listens for finished runs (ingest.runs.run_finished) once Django is ready."""

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts import hooks
        from ingest.runs import run_finished

        run_finished.connect(hooks.on_run_finished, dispatch_uid="alerts.run_finished")
