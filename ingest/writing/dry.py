"""Statements that read and never write: what writing a file's rows would do to records, for
the wizard's Check sample (ingest.dry_run). write_file runs with them exactly as a run does,
its cleaning, batches, duplicates, tolerance and Sync's deletion limit included; only the
writes are counted instead of sent, against a picture of the records kept in memory.

Every statement is a SELECT, and none locks: the entity type's existence is checked without
the lock a run takes, so a check never waits for a run (nor holds one up).
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice

from django.db.models import QuerySet

from entities.models import EntityType, Record
from ingest.types import FileFailed, IngestConfig
from ingest.writing.statements import Existing, Statements, Upserted, Write

LOOKUP_CHUNK = 500  # identifiers per SELECT (SQLite allows 999 parameters)


def _chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    items = iter(sorted(ids))
    while chunk := list(islice(items, LOOKUP_CHUNK)):
        yield chunk


class DryStatements(Statements):
    """A file's statements, dry: the records a write would give the file's token (`marked`:
    written, or kept by Sync) are remembered, so that later batches see them as a run's would
    and Sync's removals can be counted."""

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        super().__init__(config, now)
        self.marked: set[str] = set()

    def _records(self) -> QuerySet[Record]:
        return Record.objects.filter(entity_type_id=self.entity_type_id)

    def lock_entity_type(self) -> None:
        if not EntityType.objects.filter(pk=self.entity_type_id).exists():
            raise FileFailed(
                f"the entity (id {self.entity_type_id}) this connector writes into no longer exists"
            )

    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, Existing]:
        found: dict[str, Existing] = {}
        for chunk in _chunks(ids):
            rows = self._records().filter(external_id__in=chunk)
            for external_id, last_file_id in rows.values_list("external_id", "last_file_id"):
                found[external_id] = Existing(last_file_id, None)
        for external_id in ids & self.marked:  # written by this file already
            found[external_id] = Existing(self.token, None)
        return found

    def _write(self, writes: Sequence[Write]) -> int:
        self.marked.update(write.external_id for write in writes)
        return len(writes)

    def insert(self, writes: Sequence[Write]) -> int:
        return self._write(writes)

    def update(self, writes: Sequence[Write]) -> int:
        return self._write(writes)

    def upsert(self, writes: Sequence[Write]) -> Upserted:
        created = sum(1 for write in writes if write.is_new)
        self._write(writes)
        return Upserted(created, len(writes) - created, [])

    def mark_seen(self, ids: list[str]) -> None:
        self.marked.update(ids)

    def delete_unseen(self) -> int:
        """The connector's records the file neither wrote nor kept: those Sync would remove."""
        if self.connector is None:
            return 0
        own = self._records().filter(connector_id=self.connector)
        kept = sum(own.filter(external_id__in=chunk).count() for chunk in _chunks(self.marked))
        return own.count() - kept
