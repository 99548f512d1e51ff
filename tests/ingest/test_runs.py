"""Starting a run, or refusing to, saying why: a disabled connector, and an owner who may no
longer write into the entity (or delete from it, for Sync). A refused scheduled poll is
recorded as a failed run."""

import pytest

from entities.models import EntityAccess, EntityRight
from ingest import runs
from ingest.models import Run, RunStatus
from tests.support.factories import REFUSED, make_connector, revoke


def test_a_disabled_connector_does_not_run(connector) -> None:
    connector.enabled = False
    connector.save()
    with pytest.raises(runs.RunRefused, match="disabled"):
        runs.start_run(connector, trigger="manual")
    assert runs.start_scheduled_run(connector.pk) is None


def test_run_now_is_refused_once_the_owners_access_is_revoked(alice, connector) -> None:
    revoke(alice)
    with pytest.raises(runs.RunRefused) as refused:
        runs.start_run(connector, trigger="manual")
    assert str(refused.value).startswith(REFUSED)
    assert not Run.objects.exists()


def test_a_refused_scheduled_poll_is_recorded_as_a_failed_run(alice, connector) -> None:
    revoke(alice)
    assert runs.start_scheduled_run(connector.pk) is None
    run = Run.objects.get()
    assert (run.trigger, run.status) == ("scheduled", RunStatus.FAILED)
    assert run.error.startswith(REFUSED) and run.finished_at is not None


def test_a_sync_connector_whose_owner_may_only_write_is_refused(alice, bucket, s3_endpoint) -> None:
    connector = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, integration_type="sync")
    EntityAccess.objects.filter(user=alice).update(level=EntityRight.WRITE)
    with pytest.raises(runs.RunRefused, match="may not delete Profile records"):
        runs.start_run(connector, trigger="manual")
