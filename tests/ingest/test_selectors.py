"""Reads for run pages: a connector's runs, of one trigger when one is asked for, and its files
waiting to be moved: ingested ones whose move failed to the end, and those kept in the source
directory because they cannot be moved; not those still in hand, nor those kept by the rules."""

from django.utils import timezone

from ingest import selectors
from ingest.models import FileState, Run, RunTrigger, SourceFile
from tests.support.factories import make_connector


def test_a_connectors_runs_are_filtered_by_trigger_only_when_one_is_asked_for(
    alice, connector, bucket, s3_endpoint
) -> None:
    manual = Run.objects.create(connector=connector, trigger=RunTrigger.MANUAL)
    scheduled = Run.objects.create(connector=connector, trigger=RunTrigger.SCHEDULED)
    other = make_connector(alice, bucket=bucket, endpoint=s3_endpoint, name="Other profiles")
    Run.objects.create(connector=other, trigger=RunTrigger.MANUAL)

    assert set(selectors.runs_of(connector)) == {manual, scheduled}
    assert list(selectors.runs_of(connector, trigger=RunTrigger.SCHEDULED)) == [scheduled]


def test_files_waiting_to_move_are_those_not_moved_for_a_reason(connector) -> None:
    def source_file(key: str, state: str, route_error: str = "") -> SourceFile:
        return SourceFile.objects.create(
            connector=connector,
            key=key,
            etag="e",
            last_modified=timezone.now(),
            state=state,
            route_error=route_error,
        )

    move_failed = source_file("incoming/a.csv", FileState.INGESTED, "AccessDenied")
    unmovable = source_file("incoming/b.csv", FileState.RETAINED, "Its name would be too long.")
    source_file("incoming/c.csv", FileState.INGESTED)  # in hand: its move is still being tried
    source_file("incoming/d.csv", FileState.RETAINED)  # failed, kept as the rules say
    source_file("incoming/e.csv", FileState.MOVED)
    source_file("incoming/f.csv", FileState.CLAIMED)

    assert list(selectors.files_waiting_to_move(connector)) == [move_failed, unmovable]
