"""The writer's statements, as each database vendor needs them written: what they all share.

Every statement goes through Django's cursor wrapper (`db.cursor()`; on PostgreSQL the same
wrapper around a server-binding cursor, see PostgresStatements.cursor), so Django's error
translation, connection handling and query log (connection.queries when DEBUG, and tests'
CaptureQueriesContext) see them all. `db` is the connection of the thread that made these
statements: ingest.writing.inflight lets its writer thread use it, inside the caller's
transaction. Every value travels as a parameter; only the table's quoted names are formatted in.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper

from entities.models import EntityType, Record
from ingest.types import DbTime, FileFailed, IngestConfig
from ingest.writing.jsontext import Keyed
from ingest.writing.rows import Data


@dataclass(slots=True)
class Existing:
    """A record a batch names that exists."""

    last_file_id: int | None
    data: dict[str, Any] | None  # only where the merge happens in Python (SQLite)


@dataclass(slots=True)
class Write:
    """A record to write, and whether its lookup found it missing."""

    external_id: str
    data: Data
    is_new: bool


class Upserted(NamedTuple):
    """What an upsert did: records created, records updated, and (where the database says so)
    the identifiers it left alone because this file had written them already."""

    created: int
    updated: int
    unwritten: list[str]


_COLUMNS = ("entity_type", "external_id", "data", "last_file_id", "connector_id")


class Statements(ABC):
    """The statements of one file (or of the lock several files share)."""

    copies = False  # new records can be COPYd (PostgreSQL)
    upserts_unlooked = False  # upsert_unlooked() is available (PostgreSQL)
    merges_in_python = False  # existing records' data is read, merged here and written back

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        self.db = connections[DEFAULT_DB_ALIAS]  # this thread's connection
        self.entity_type_id = config.entity_type_id
        self.token = config.file_token
        self.connector = config.connector_id
        adapted = self.db.ops.adapt_datetimefield_value(now)
        assert adapted is not None  # None only for a None time
        self.now: DbTime = adapted
        quote = self.db.ops.quote_name
        names = (*_COLUMNS, "created_at", "updated_at")
        columns = {f.name: f.column for f in Record._meta.concrete_fields}
        self.names = {name: quote(columns[name]) for name in names}
        self.names["table"] = quote(Record._meta.db_table)

    def cursor(self) -> CursorWrapper:
        """A cursor of Django's wrapper (CursorDebugWrapper when queries are logged)."""
        return self.db.cursor()

    def run(self, template: str, params: list[Any], **parts: str) -> tuple[int, list[Any]]:
        """Execute `template` with the table's quoted names and `parts` filled in; return the
        row count and the rows returned."""
        with self.cursor() as cursor:
            cursor.execute(template.format(**self.names, **parts), params)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.rowcount, rows

    # Records have no foreign key constraint (see entities.models.Record): this lock, held
    # until the file's transaction ends, is what the constraint's trigger took for every row.
    # Several files in one transaction take it once (ingest.writing.lock_entity_type).
    _LOCK_ENTITY_TYPE = (
        "SELECT CURRENT_TIMESTAMP FROM {entity_table} WHERE {entity_pk} = %s FOR KEY SHARE"
    )

    def lock_entity_type(self) -> None:
        """Hold the entity type for this file's transaction, or fail the file if it is gone:
        deleting it waits for the file, then deletes the file's records too."""
        meta = EntityType._meta
        quote = self.db.ops.quote_name
        _, rows = self.run(
            self._LOCK_ENTITY_TYPE,
            [self.entity_type_id],
            entity_table=quote(meta.db_table),
            entity_pk=quote(meta.pk.column),
        )
        if not rows:
            raise FileFailed(
                f"the entity (id {self.entity_type_id}) this connector writes into no longer exists"
            )
        if rows[0][0] is not None:
            self.now = rows[0][0]  # the transaction's time, which COPY's defaults give records

    def count_connectors_records(self) -> int:
        """The number of the entity's records this connector wrote last."""
        _, rows = self.run(
            "SELECT COUNT(*) FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s",
            [self.entity_type_id, self.connector],
        )
        return int(rows[0][0])

    @abstractmethod
    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, Existing]:
        """The records among `ids`; their data only if `with_data`."""

    def found(self, ids: set[str]) -> set[str]:
        """Those of `ids` that have a record."""
        return set(self.existing(ids, with_data=False))

    @abstractmethod
    def insert(self, writes: Sequence[Write]) -> int:
        """Insert new records, leaving existing ones alone; the number inserted."""

    @abstractmethod
    def upsert(self, writes: Sequence[Write]) -> Upserted:
        """Insert or merge into records this file has not written yet."""

    @abstractmethod
    def update(self, writes: Sequence[Write]) -> int:
        """Merge into existing records this file has not written yet; the number updated."""

    @abstractmethod
    def mark_seen(self, ids: list[str]) -> None:
        """Give these records the file's token without changing them (Sync keeps them)."""

    @abstractmethod
    def delete_unseen(self) -> int:
        """Delete the entity's records of this connector without the file's token; the number
        deleted."""

    def upsert_unlooked(self, rows: Sequence[Keyed]) -> Upserted:
        """Upsert rows nobody looked up (where `upserts_unlooked`): the database says what it
        created, updated, and left alone because this file had written it already."""
        raise NotImplementedError

    def copy_text(self, records: Sequence[Keyed]) -> str:
        """New records in the form copy() takes (where `copies`)."""
        raise NotImplementedError

    def copy(self, text: str) -> bool:
        """Write new records at once (where `copies`); False, with nothing written, if one of
        them exists."""
        raise NotImplementedError
