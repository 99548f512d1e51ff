"""PostgreSQL's statements: new records by COPY (psycopg's COPY API), the rest as one JSON
document a statement.

A batch travels as one JSON parameter read by jsonb_array_elements(): one value for psycopg
to quote, where a text array would be quoted element by element; jsonb's || merges a row's
values into its record's data. COPY takes the records in its text format, built at once for a
batch (ingest.writing.jsontext), through the cursor of Django's wrapper, in a savepoint: a
record that exists already undoes it, and the batch is written by statements instead.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import IntegrityError
from django.db.backends.postgresql.base import CursorDebugWrapper  # logs COPY too
from django.db.backends.utils import CursorWrapper

from ingest.types import IngestConfig
from ingest.writing.jsontext import Keyed, copy_text, dumps, pairs_json
from ingest.writing.statements import Existing, Statements, Upserted, Write

# Identifiers travel as a JSON array: with "= ANY(%s::text[])" the planner trusts the array's
# length and may scan every record of the entity instead of using the unique index.
IDS_FROM_JSON = "ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))"


class PostgresStatements(Statements):
    copies = True
    upserts_unlooked = True

    # created_at and updated_at are left to their database default: the transaction's time,
    # which lock_entity_type made the file's time (self.now) too.
    COPY = (
        "COPY {table} ({entity_type}, {external_id}, {data}, {last_file_id}, {connector_id}) "
        "FROM STDIN"
    )
    _INSERT = (
        "INSERT INTO {table} AS r ({entity_type}, {external_id}, {data}, {last_file_id}, "
        "{connector_id}, {created_at}, {updated_at}) "
        "SELECT %s, u->>0, u->1, %s, %s, %s, %s FROM jsonb_array_elements(%s::jsonb) AS u "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )

    def __init__(self, config: IngestConfig, now: datetime) -> None:
        super().__init__(config, now)
        connector = "\\N" if self.connector is None else self.connector  # COPY's null
        self._copy_head = f"{self.entity_type_id}\t"
        self._copy_tail = f"\t{self.token}\t{connector}\n"

    def cursor(self) -> CursorWrapper:
        """Django's cursor wrapper around a cursor that binds parameters on the server: a
        batch's JSON document then travels as one parameter, where Django's default cursor
        quotes it into the statement's text for PostgreSQL to parse again (re-delivering 1 M
        records: 9 s longer, BENCHMARKS.md). Wrapped as db.cursor() wraps its own."""
        self.db.validate_thread_sharing()
        self.db.ensure_connection()
        bound = psycopg.Cursor(self.db.connection)  # psycopg's own cursor binds on the server
        if self.db.queries_logged:  # as make_debug_cursor() and make_cursor() wrap
            return CursorDebugWrapper(bound, self.db)
        return CursorWrapper(bound, self.db)

    def run(self, template: str, params: list[Any], **parts: str) -> tuple[int, list[Any]]:
        return super().run(template, params, ids_from_json=IDS_FROM_JSON, **parts)

    def _insert_params(self, writes: Sequence[Keyed]) -> list[Any]:
        head = [self.entity_type_id, self.token, self.connector, self.now, self.now]
        return [*head, pairs_json(writes)]

    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, Existing]:
        _, rows = self.run(
            "SELECT {external_id}, {last_file_id} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.entity_type_id, dumps(list(ids))],
        )
        return {external_id: Existing(last_file_id, None) for external_id, last_file_id in rows}

    def found(self, ids: set[str]) -> set[str]:
        _, rows = self.run(
            "SELECT {external_id} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.entity_type_id, dumps(list(ids))],
        )
        return {external_id for (external_id,) in rows}

    def insert(self, writes: Sequence[Write]) -> int:
        count, _ = self.run(self._INSERT + "DO NOTHING", self._insert_params(writes))
        return count

    def upsert(self, writes: Sequence[Write]) -> Upserted:
        return self.upsert_unlooked(writes)

    def upsert_unlooked(self, rows: Sequence[Keyed]) -> Upserted:
        _, returned = self.run(
            self._INSERT + "DO UPDATE SET {data} = r.{data} || EXCLUDED.{data}, "
            "{last_file_id} = EXCLUDED.{last_file_id}, {connector_id} = EXCLUDED.{connector_id}, "
            "{updated_at} = EXCLUDED.{updated_at} "
            "WHERE r.{last_file_id} IS DISTINCT FROM EXCLUDED.{last_file_id} "
            "RETURNING r.{external_id}, (r.xmax = 0)",  # xmax is 0 in a row version it inserted
            self._insert_params(rows),
        )
        created = sum(1 for _, inserted in returned if inserted)
        unwritten: list[str] = []
        if len(returned) < len(rows):
            written = {external_id for external_id, _ in returned}
            unwritten = [row.external_id for row in rows if row.external_id not in written]
        return Upserted(created, len(returned) - created, unwritten)

    def update(self, writes: Sequence[Write]) -> int:
        count, _ = self.run(
            "UPDATE {table} AS r SET {data} = r.{data} || (u->1), {last_file_id} = %s, "
            "{connector_id} = %s, {updated_at} = %s "
            "FROM jsonb_array_elements(%s::jsonb) AS u "
            "WHERE r.{entity_type} = %s AND r.{external_id} = u->>0 "
            "AND r.{last_file_id} IS DISTINCT FROM %s",
            [
                self.token,
                self.connector,
                self.now,
                pairs_json(writes),
                self.entity_type_id,
                self.token,
            ],
        )
        return count

    def mark_seen(self, ids: list[str]) -> None:
        self.run(
            "UPDATE {table} SET {last_file_id} = %s "
            "WHERE {entity_type} = %s AND {external_id} = ANY({ids_from_json})",
            [self.token, self.entity_type_id, dumps(ids)],
        )

    def delete_unseen(self) -> int:
        count, _ = self.run(
            "DELETE FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s "
            "AND {last_file_id} IS DISTINCT FROM %s",
            [self.entity_type_id, self.connector, self.token],
        )
        return count

    def copy_text(self, records: Sequence[Keyed]) -> str:
        return copy_text(records, self._copy_head, self._copy_tail)

    def copy(self, text: str) -> bool:
        """COPY new records in a savepoint; False (and nothing written) if one of them exists:
        this file or another transaction wrote it since it was (or instead of being) looked
        up."""
        savepoint = self.db.savepoint()
        if savepoint is None:  # not in a transaction: the writer always runs in its caller's
            raise RuntimeError("COPY runs in the caller's transaction")
        try:
            with (
                self.cursor() as cursor,
                self.db.wrap_database_errors,  # psycopg's errors as Django's, like execute()'s
                cursor.copy(self.COPY.format(**self.names)) as copy,
            ):
                copy.write(text)
        except IntegrityError:
            self.db.savepoint_rollback(savepoint)
            return False
        self.db.savepoint_commit(savepoint)
        return True
