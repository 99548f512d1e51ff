"""Write a file's rows into entity records, in bulk, by the connector's Integration Type.

What a record holds: Record.external_id is the unique identifier field's value as text, and
Record.data maps entity field names (the unique identifier included) to their typed values,
null for an empty value. Fields the connector does not map are never touched.
- Insert creates records only; rows whose identifier exists are skipped.
- Update changes existing records only; rows whose identifier is new are skipped.
- Upsert and Sync set every mapped field (a mapped column the file lacks sets the field to null).
- Patch sets only the fields whose columns the row has, keeping the others.
- Sync then deletes the records of the entity that its connector wrote last and the file did
  not name; records other connectors wrote are never its to delete. A file that would delete
  more than the connector's deletion limit of them fails instead.

Every record written gets last_file_id = the file's token and connector_id = the connector
writing it. The token marks what this file has written, so a unique identifier repeated
anywhere in the file is found without keeping the file's identifiers in memory, and Sync
deletes what does not carry the mark among the records carrying its connector.

The modules, in the order a row meets them:
- files: write_file and lock_entity_type; a file's rows counted, batched, its failure.
- plan: which field each column fills, and what the Integration Type asks.
- compiled: the generated fast paths for valid rows (`manage.py show_cleaner` prints them),
  derived from the field types' declarations (entities.fieldtypes).
- rows: the exact path of a row, which says what is wrong with it.
- batches: what each row of a batch becomes, and the statements that write it.
- statements, postgres, sqlite: those statements, through Django's cursor; jsontext: the JSON
  and COPY text they carry.
- inflight: PostgreSQL's batches written on a background thread while the next is read.
"""

from ingest.writing.files import lock_entity_type, write_file

__all__ = ["lock_entity_type", "write_file"]
