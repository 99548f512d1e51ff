"""Moving and deleting ingested files by the connector's Successful/Failed Files Directory
rules (a failed file's error report written next to it), and recording where each ended up.

A move writes the file where it goes (a PUT of the bytes a batch holds, or a server-side
copy), then deletes the source, only if it still holds the version ingested. A try that fails
is counted on the file; the last try of a batch also records why (see route_files).
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.db import transaction

from connectors.aws import describe_error
from connectors.models import Connector
from ingest import faults, ledger, reports
from ingest.models import FileState, FileVerdict, SourceFile
from ingest.runs import note
from ingest.s3.client import layout_for
from ingest.s3.conditions import endpoint_conditions
from ingest.s3.deletes import REPLACED, delete_keys
from ingest.s3.destinations import DestinationTooLong, destination_for, report_key
from ingest.s3.keys import Layout, vacant_keys
from ingest.s3.objects import (
    SourceReplaced,
    can_put,
    copy_object,
    ensure_copy_of,
    free_destination,
    place_bytes,
    put_report,
    remove_copy,
)

logger = logging.getLogger(__name__)


def route_files(
    client: Any,
    connector: Connector,
    file_ids: list[int],
    *,
    held: dict[int, bytes] | None = None,
    last_try: bool = True,
) -> list[int]:
    """Move or delete the ingested files among `file_ids` by the spec's rules; return the ids
    of those still waiting to be moved. A failure is counted on its file, and recorded as its
    route error only on the `last_try`: until then the file is still in hand, and its run
    waits for it. `held` has the bytes of some of the files (read by this batch): those may
    be PUT."""
    _route(client, layout_for(connector), file_ids, held or {}, last_try=last_try)
    waiting = SourceFile.objects.filter(pk__in=file_ids, state=FileState.INGESTED)
    return list(waiting.values_list("pk", flat=True))


def route_failed(source_file: SourceFile, message: str, *, last_try: bool) -> None:
    """Count the attempt; the last try of a batch also records why (until then the file is
    still in hand: its run waits for it)."""
    source_file.route_attempts += 1
    if last_try:
        source_file.route_error = message
    source_file.save(
        update_fields=["route_attempts", "route_error", "destination_key", "report_key"]
    )
    logger.warning(
        "file %s of connector %s not routed: %s", source_file.pk, source_file.connector_id, message
    )


def _route(
    client: Any,
    layout: Layout,
    file_ids: list[int],
    held: dict[int, bytes],
    *,
    last_try: bool,
) -> None:
    """Copies (and error reports) go to S3 concurrently; the ledger, whose rows this
    transaction locks, is written by this thread only."""
    with transaction.atomic():
        files = list(
            SourceFile.objects.select_for_update(skip_locked=True).filter(
                pk__in=file_ids, state=FileState.INGESTED
            )
        )
        moves = [_move_for(layout, f) for f in files]
        _plan_writes(client, layout, moves, held)
        vacant = vacant_keys(client, layout.bucket, _names_to_list(moves))
        with ThreadPoolExecutor(max(1, min(settings.INGEST_S3_THREADS, len(moves)))) as pool:
            results = list(pool.map(lambda m: _copy_to_target(client, layout, m, vacant), moves))
        to_remove: list[SourceFile] = []
        for move, remove_source in zip(moves, results, strict=True):
            if remove_source:
                to_remove.append(move.source_file)
            elif move.error:
                route_failed(move.source_file, move.error, last_try=last_try)
            elif move.unmovable:
                ledger.finish(move.source_file, FileState.RETAINED, not_moved=move.unmovable)
            elif move.ends_as:
                ledger.finish(move.source_file, move.ends_as[0], reason=move.ends_as[1])
        failures = _delete_sources(client, layout, {f.key: f.etag for f in to_remove})
        faults.checkpoint("after_delete")
        replaced = _settle_deletes(to_remove, failures, last_try=last_try)
    for source_file in replaced:
        run_id = source_file.route_run_id or source_file.run_id  # the run moving it
        if run_id is not None:
            note(run_id, _replaced_note(source_file))


def _settle_deletes(
    to_remove: list[SourceFile], failures: dict[str, tuple[str, str]], *, last_try: bool
) -> list[SourceFile]:
    """Record the files whose sources were deleted (or found replaced, which the conditional
    delete left alone) as finished, the others as not routed; return the replaced ones."""
    removed: list[SourceFile] = []
    replaced: list[SourceFile] = []
    for source_file in to_remove:
        code, message = failures.get(source_file.key, ("", ""))
        if code and code != REPLACED:
            route_failed(
                source_file,
                f"Deleting it from the source directory failed: {code}: {message}",
                last_try=last_try,
            )
            continue
        if code:
            replaced.append(source_file)
        done = FileState.MOVED if source_file.destination_key else FileState.DELETED
        ledger.mark_finished(source_file, done)
        removed.append(source_file)
    ledger.update_rows(removed, ledger.FINISH_FIELDS)
    return replaced


def _replaced_note(source_file: SourceFile) -> str:
    where = (
        f"moved to {source_file.destination_key}" if source_file.destination_key else "done with"
    )
    return (
        f"{source_file.key}: replaced in the source directory while it was being moved; the "
        f"version ingested was {where}, the new one is left there for the next run."
    )


@dataclass
class _Move:
    """Where an ingested file goes: `target` is blank when it stays or is only deleted."""

    source_file: SourceFile
    target: str
    first_choice: str = ""  # the destination key without a suffix
    report: str = ""  # the error report written next to a failed file
    ends_as: tuple[str, str] | None = None  # (state, reason) to record instead of a removal
    error: str = ""
    unmovable: str = ""  # why no name under `target` can ever hold it: kept in the source
    report_if_absent: bool = False  # the report is PUT with If-None-Match (honoured)
    check_copy: bool = True  # CopySourceIfMatch is not known to be honoured: check the copy
    data: bytes | None = None  # the file's bytes, to PUT instead of copying


def naming_layout(layout: Layout, key: str) -> Layout:
    """The layout a file's destination is named by: its path relative to the directory it is
    in, the source directory, or, for a retried file (ingest.redrive), the Failed Files
    Directory (which the listing never takes files from)."""
    if layout.failed and key.startswith(layout.failed):
        return replace(layout, source=layout.failed)
    return layout


def _move_for(layout: Layout, source_file: SourceFile) -> _Move:
    succeeded = source_file.outcome == FileVerdict.SUCCEEDED
    target = layout.success if succeeded else layout.failed
    move = _Move(source_file, target)
    if target:
        if not succeeded:
            move.report = reports.error_report(source_file)
        try:
            move.first_choice = destination_for(
                source_file.key,
                naming_layout(layout, source_file.key).source,
                target,
                source_file.pk,
                0,
                with_report=not succeeded,
            )
        except DestinationTooLong as exc:
            move.unmovable = str(exc)
    return move


def _plan_writes(client: Any, layout: Layout, moves: list[_Move], held: dict[int, bytes]) -> None:
    """The moves whose bytes are held, whose properties a PUT keeps, and whose directory's
    endpoint refuses a PUT over an existing name, write the bytes: no listing, and no copy.
    Error reports are PUT with that condition too where it is honoured; copies are checked
    where CopySourceIfMatch is not."""
    for move in moves:
        if not move.target or move.unmovable:
            continue
        honoured = endpoint_conditions(client, layout.bucket, move.target)
        move.check_copy = not honoured.copy_if_match
        move.report_if_absent = bool(move.report) and honoured.put_if_absent
        data = held.get(move.source_file.pk)
        if data is not None and honoured.put_if_absent and can_put(move.source_file.object_headers):
            move.data = data


def _names_to_list(moves: list[_Move]) -> list[str]:
    """The names a listing checks are free: the first choices of the moves that copy, and
    their reports' names."""
    copied = [m for m in moves if m.target and not m.unmovable and m.data is None]
    return [m.first_choice for m in copied] + [
        report_key(m.first_choice) for m in copied if m.report
    ]


def _copy_to_target(client: Any, layout: Layout, move: _Move, vacant: set[str]) -> bool:
    """S3 only (it runs on a pool thread): copy the file where it goes, if anywhere. True when
    its source must now be deleted; otherwise `move` says what to record."""
    source_file = move.source_file
    if not move.target:
        if source_file.outcome == FileVerdict.SUCCEEDED:
            return True  # blank Successful Files Directory: delete from source
        move.ends_as = (FileState.RETAINED, "")  # blank Failed Files Directory: keep it
        return False
    if move.unmovable:
        return False
    try:
        destination = _write_file(client, layout, move, vacant)
        if move.report and not _write_report(client, layout.bucket, move, destination):
            return False
    except DestinationTooLong as exc:  # every name short enough is taken
        move.unmovable = str(exc)
        return False
    except SourceReplaced:  # found by the check of a copy (its condition ignored)
        move.ends_as = _replaced_before_moved(source_file)
        return False
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action=f"Moving it to {move.target}")
        if error.code in {"PreconditionFailed", "412"}:
            move.ends_as = _replaced_before_moved(source_file)
        else:
            move.error = str(error)
        return False
    source_file.destination_key = destination
    return True


def _write_file(client: Any, layout: Layout, move: _Move, vacant: set[str]) -> str:
    """Write the file under the first free name, by a PUT of the bytes held or by a copy, or
    find the copy an earlier attempt made (checked where copies are); return its key."""
    source_file = move.source_file
    with_report = bool(move.report)
    layout = naming_layout(layout, source_file.key)
    if move.data is not None and source_file.object_headers is not None:
        destination = place_bytes(
            client,
            layout,
            source_file.key,
            move.target,
            file_id=source_file.pk,
            data=move.data,
            headers=source_file.object_headers,
            with_report=with_report,
        )
        faults.checkpoint("after_copy")
        return destination
    found: str | None = None
    if move.first_choice in vacant and (not with_report or report_key(move.first_choice) in vacant):
        destination = move.first_choice
    else:
        destination, found = free_destination(
            client, layout, source_file.key, move.target, source_file.pk, with_report=with_report
        )
    if found is not None:  # copied by an earlier attempt, which may have died before its check
        if move.check_copy:
            ensure_copy_of(
                client,
                layout.bucket,
                source_file.key,
                source_file.etag,
                copied=found,
                copy_key=destination,
            )
        return destination
    copy_object(
        client,
        layout.bucket,
        source_file.key,
        destination,
        etag=source_file.etag,
        size=source_file.size,
        file_id=source_file.pk,
        headers=source_file.object_headers,
        check=move.check_copy,
    )
    faults.checkpoint("after_copy")
    return destination


def _replaced_before_moved(source_file: SourceFile) -> tuple[str, str]:
    return (
        FileState.SUPERSEDED,
        source_file.failure_reason
        or "The file was replaced in the bucket before it could be moved; the new "
        "version will be ingested by the next run.",
    )


def _write_report(client: Any, bucket: str, move: _Move, destination: str) -> bool:
    """Write the report next to the file; if its name was taken meanwhile (found free before
    the file was written), take the file's copy back: the next try picks other names."""
    source_file = move.source_file
    name = report_key(destination)
    if put_report(
        client, bucket, name, move.report, source_file.pk, if_absent=move.report_if_absent
    ):
        source_file.report_key = name
        return True
    remove_copy(client, bucket, destination)
    move.error = f"Its error report's name {name} was taken by another object meanwhile."
    return False


def _delete_sources(
    client: Any, layout: Layout, keys: dict[str, str]
) -> dict[str, tuple[str, str]]:
    """{key: (code, message)} of the keys not deleted ({key: ETag} are deleted if unchanged:
    checked first where the endpoint ignores the ETags of a DeleteObjects)."""
    if not keys:
        return {}
    try:
        probed_in = layout.success or layout.failed or layout.source
        honoured = endpoint_conditions(client, layout.bucket, probed_in)
        return delete_keys(client, layout.bucket, keys, check=not honoured.delete_if_match)
    except (ClientError, BotoCoreError) as exc:
        error = describe_error(exc, action="Deleting from the source directory")
        return dict.fromkeys(keys, (error.code or "Error", str(error)))
