"""A batch task's work: its files ingested (one alone, streamed; small ones together), then
their first move; the files whose move failed are handed to the move task, whose work is
here too (move_batch).

A move is tried by the batch (with the bytes it read, which small files are PUT from), then
by the move task until its retries run out (README, "Retries"); only the last try records why
a file is not moved, and its run waits until then.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.views.decorators.debug import sensitive_variables

from connectors.aws import S3AccessError
from connectors.models import Connector
from connectors.selectors import run_refusal
from ingest import faults, ledger
from ingest.errors import FOR_CALLERS, FilesNotMoved, TransientIngestError
from ingest.ingestion import (
    fail_claimed_file,
    ingest_config,
    ingest_file,
    ingest_together,
    unexpected_failure,
)
from ingest.models import FileState, Run, SourceFile
from ingest.routing import route_failed, route_files
from ingest.runs import complete_if_done, complete_runs_of
from ingest.s3.client import client_for
from ingest.types import IngestConfig

logger = logging.getLogger(__name__)
RetryMoves = Callable[[int, list[int]], None]  # (run id, ids of files not moved yet)


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def process_batch(
    run_id: int,
    file_ids: list[int],
    *,
    retry_moves: RetryMoves,
    give_up_on_transient: bool = True,
) -> None:
    """Ingest the files, then move them together; hand those not moved to `retry_moves`. A
    file on its own is streamed in its own transaction; several (small) files are read at
    once and ingested in one transaction. Unless `give_up_on_transient`, a passing failure
    (an outage) raises TransientIngestError for the task to retry the batch; otherwise the
    files it stopped are given back for the next run."""
    run = Run.objects.select_related(
        "connector", "connector__s3", "connector__entity_type", "connector__owner"
    ).get(pk=run_id)
    client = _client_or_give_back(run, file_ids, give_up_on_transient=give_up_on_transient)
    if client is None:
        return
    held: dict[int, bytes] = {}  # small files' bytes, which their moves may PUT
    refusal = run_refusal(run.connector)  # access may have been revoked since the run started
    if refusal is None:
        _ingest_batch(client, run, file_ids, held, give_up_on_transient=give_up_on_transient)
    else:
        for file_id in file_ids:  # given back, untouched, for a run that may write again
            ledger.release_claim(run_id, file_id, refusal)
    faults.checkpoint("after_commit")
    not_moved = route_files(client, run.connector, file_ids, held=held, last_try=False)
    if not_moved:
        retry_moves(run_id, not_moved)
    complete_runs_of(file_ids, run_id)


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def move_batch(run_id: int, file_ids: list[int], *, last_try: bool) -> None:
    """Try again to move the batch's ingested files whose moves failed (the move task's
    work). Unless it is the `last_try`, files still not moved raise FilesNotMoved, for the
    task to retry; on the last, why is recorded on each and their runs are closed."""
    run = Run.objects.select_related("connector", "connector__s3").get(pk=run_id)
    try:
        client = client_for(run.connector)
    except S3AccessError as exc:
        if exc.transient and not last_try:
            raise TransientIngestError(str(exc)) from exc
        for source_file in SourceFile.objects.filter(pk__in=file_ids, state=FileState.INGESTED):
            route_failed(source_file, f"Could not connect to S3: {exc}", last_try=True)
    else:
        not_moved = route_files(client, run.connector, file_ids, last_try=last_try)
        if not_moved and not last_try:
            raise FilesNotMoved(f"{len(not_moved)} file(s) of run {run_id} not moved yet")
    complete_runs_of(file_ids, run_id)


def _client_or_give_back(run: Run, file_ids: list[int], *, give_up_on_transient: bool) -> Any:
    """The run's S3 client; without one (an outage, or settings no client can be built from
    since the listing), the task retries a passing failure, and otherwise the batch's files
    are given back (claimed ones are listed again by the next run; ingested ones wait there to
    be moved), so the run still finishes, saying why."""
    try:
        return client_for(run.connector)
    except S3AccessError as exc:
        if exc.transient and not give_up_on_transient:
            raise TransientIngestError(str(exc)) from exc
        reason = f"could not connect to S3: {exc}"
    for source_file in SourceFile.objects.filter(pk__in=file_ids, state=FileState.INGESTED):
        route_failed(source_file, reason[0].upper() + reason[1:], last_try=True)
    for file_id in file_ids:
        ledger.release_claim(run.pk, file_id, reason)
    complete_if_done(run.pk)
    return None


def _ingest_batch(
    client: Any,
    run: Run,
    file_ids: list[int],
    held: dict[int, bytes],
    *,
    give_up_on_transient: bool,
) -> None:
    config = ingest_config(run.connector, file_id=0)  # the entity's fields, read once a batch
    if len(file_ids) == 1:
        unread = _ingest_alone(client, file_ids[0], connector=run.connector, config=config)
    else:
        try:
            unread = ingest_together(
                client, file_ids, connector=run.connector, config=config, held=held
            )
        except FOR_CALLERS:
            raise
        except Exception:  # outside any one file's parsing: find the culprit file by file
            logger.exception(
                "run %s: a batch failed unexpectedly; ingesting it file by file", run.pk
            )
            held.clear()
            unread = {}
            for file_id in file_ids:
                unread |= _ingest_alone(client, file_id, connector=run.connector, config=config)
    for file_id, reason in unread.items():
        if not give_up_on_transient:
            raise TransientIngestError(reason)
        ledger.release_claim(run.pk, file_id, reason)


def _ingest_alone(
    client: Any, file_id: int, *, connector: Connector, config: IngestConfig
) -> dict[int, str]:
    """Ingest one file; {file id: reason} if it could not be read for a passing reason. An
    unexpected error (outside its parsing, which the ingestion answers for) fails it."""
    try:
        ingest_file(client, file_id, connector=connector, config=config)
    except TransientIngestError as exc:
        return {file_id: str(exc)}
    except FOR_CALLERS:
        raise
    except Exception as exc:
        logger.exception("file %s: ingesting failed unexpectedly", file_id)
        fail_claimed_file(file_id, unexpected_failure(exc))
    return {}
