"""Celery tasks: the watchdog is one, which Celery beat runs every few minutes."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ingest import runs, tasks
from ingest.models import Run, RunStatus


def test_the_watchdog_is_a_task_celery_beat_runs_every_few_minutes(connector) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["ingest-watchdog"]
    assert entry["task"] == tasks.watchdog.name == "ingest.tasks.watchdog"
    assert entry["schedule"] == settings.INGEST_WATCHDOG_SECONDS == 300
    run = runs.start_run(connector, trigger="manual")
    Run.objects.filter(pk=run.pk).update(queued_at=timezone.now() - timedelta(hours=3))

    tasks.watchdog()

    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED
