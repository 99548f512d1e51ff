"""SQLite's statements: rows as VALUES lists, data merged in Python.

SQLite's json_patch() drops null values, so data is merged here; SQLite runs one writer at a
time, so the data looked up cannot change before it is written back. A statement holds at
most SQLITE_ROWS_PER_STATEMENT rows, under SQLite's 32,766 parameters.
"""

import json
from collections.abc import Sequence
from typing import Any

from ingest.writing.jsontext import json_of
from ingest.writing.statements import Existing, Statements, Upserted, Write

SQLITE_ROWS_PER_STATEMENT = 5000


def _parts(items: Sequence[Any]) -> list[Sequence[Any]]:
    step = SQLITE_ROWS_PER_STATEMENT
    return [items[start : start + step] for start in range(0, len(items), step)]


class SqliteStatements(Statements):
    merges_in_python = True
    _LOCK_ENTITY_TYPE = "SELECT NULL FROM {entity_table} WHERE {entity_pk} = %s"  # no row locks
    _INSERT = (
        "INSERT INTO {table} ({entity_type}, {external_id}, {data}, {last_file_id}, "
        "{connector_id}, {created_at}, {updated_at}) "
        "SELECT %s, column1, column2, %s, %s, %s, %s FROM (VALUES {rows}) WHERE true "
        "ON CONFLICT ({entity_type}, {external_id}) "
    )
    _UPSERT = _INSERT + (
        "DO UPDATE SET {data} = excluded.{data}, {last_file_id} = excluded.{last_file_id}, "
        "{connector_id} = excluded.{connector_id}, {updated_at} = excluded.{updated_at} "
        "WHERE {table}.{last_file_id} IS NOT excluded.{last_file_id}"
    )
    _UPDATE = (
        "UPDATE {table} SET {data} = v.column2, {last_file_id} = %s, {connector_id} = %s, "
        "{updated_at} = %s "
        "FROM (VALUES {rows}) AS v "
        "WHERE {table}.{entity_type} = %s AND {table}.{external_id} = v.column1 "
        "AND {table}.{last_file_id} IS NOT %s"
    )

    def _with_values(
        self, template: str, writes: Sequence[Write], before: list[Any], after: list[Any]
    ) -> int:
        """Run `template` once per part of `writes`, its {rows} a VALUES list; total count."""
        total = 0
        for part in _parts(writes):
            rows = ", ".join(["(%s, %s)"] * len(part))
            values = [value for w in part for value in (w.external_id, json_of(w.data))]
            count, _ = self.run(template, [*before, *values, *after], rows=rows)
            total += count
        return total

    def _with_ids(
        self, template: str, ids: list[str], before: list[Any], **parts: str
    ) -> list[Any]:
        """Run `template` once per part of `ids`, its {ids} a list of parameters; all rows."""
        found: list[Any] = []
        for part in _parts(ids):
            marks = ", ".join(["%s"] * len(part))
            found += self.run(template, [*before, *part], ids=marks, **parts)[1]
        return found

    def existing(self, ids: set[str], *, with_data: bool) -> dict[str, Existing]:
        rows = self._with_ids(
            "SELECT {external_id}, {last_file_id}, {wanted_data} FROM {table} "
            "WHERE {entity_type} = %s AND {external_id} IN ({ids})",
            sorted(ids),
            [self.entity_type_id],
            wanted_data=self.names["data"] if with_data else "NULL",
        )
        return {
            external_id: Existing(last_file_id, json.loads(data) if with_data else None)
            for external_id, last_file_id, data in rows
        }

    def _head(self) -> list[Any]:
        return [self.entity_type_id, self.token, self.connector, self.now, self.now]

    def insert(self, writes: Sequence[Write]) -> int:
        return self._with_values(self._INSERT + "DO NOTHING", writes, self._head(), [])

    def upsert(self, writes: Sequence[Write]) -> Upserted:
        written = self._with_values(self._UPSERT, writes, self._head(), [])
        created = sum(1 for w in writes if w.is_new)
        return Upserted(created, written - created, [])

    def update(self, writes: Sequence[Write]) -> int:
        return self._with_values(
            self._UPDATE,
            writes,
            [self.token, self.connector, self.now],
            [self.entity_type_id, self.token],
        )

    def mark_seen(self, ids: list[str]) -> None:
        self._with_ids(
            "UPDATE {table} SET {last_file_id} = %s "
            "WHERE {entity_type} = %s AND {external_id} IN ({ids})",
            ids,
            [self.token, self.entity_type_id],
        )

    def delete_unseen(self) -> int:
        count, _ = self.run(
            "DELETE FROM {table} WHERE {entity_type} = %s AND {connector_id} = %s "
            "AND {last_file_id} IS NOT %s",
            [self.entity_type_id, self.connector, self.token],
        )
        return count
