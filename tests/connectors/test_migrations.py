"""Upgrading an installation: connectors' beat entries saved before keep calling the poll
task the way it is called now."""

import json

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors import services
from ingest import tasks
from tests.support.migrations import latest, migrate


@pytest.mark.django_db(transaction=True)
def test_upgrading_stops_beat_entries_sending_the_poll_task_an_argument_it_no_longer_takes() -> (
    None
):
    try:
        migrate([("connectors", "0003_owners_keep_entity_access")])
        every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.MINUTES)
        old = PeriodicTask.objects.create(
            name="connector-1",
            task=services.POLL_TASK,
            interval=every,
            args="[1]",
            kwargs='{"trigger": "scheduled"}',
        )
        other = PeriodicTask.objects.create(
            name="someone else's", task="x.y", interval=every, kwargs='{"trigger": "kept"}'
        )

        migrate(latest())

        old.refresh_from_db()
        other.refresh_from_db()
        assert (old.args, old.kwargs) == ("[1]", "{}")
        assert other.kwargs == '{"trigger": "kept"}'
        # What beat sends now is a call the task takes (connector 1 is gone: nothing to run).
        result = tasks.poll_connector.apply(json.loads(old.args), json.loads(old.kwargs))
        assert result.successful(), result.traceback
    finally:
        migrate(latest())
