"""Re-driving failed files: a retry asked for (refused, saying why, or a run of trigger "retry"
that has claimed each file), and that run's work: each file found where its failure left it
and taken again as a new ledger entry, then ingested and routed as any run's files are.

The ledger (README, "Retrying failed files"): a failed entry is never ingested again itself.
Its retry is a new SourceFile for the object where the failure left it (the Failed Files
Directory's copy, or the source file when it was kept there), `retry_of` the failed entry,
with the next `attempt`: the unique key (connector, key, ETag, LastModified, attempt) lets
that object be taken once per attempt. Two claims keep a file from being retried twice at
once: the failed entry's `retry_run`, set by a conditional UPDATE (only where it still holds
the value read, so of two requests at once one wins), and the new entry's unique key (a
redelivered task finds its own entry instead of making another).
"""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors.aws import S3AccessError, describe_error
from connectors.models import Connector
from connectors.selectors import run_refusal
from ingest.errors import TransientIngestError
from ingest.listing import Dispatch, in_batches
from ingest.models import FileState, FileVerdict, Run, RunStatus, RunTrigger, SourceFile
from ingest.runs import RunRefused, complete_if_done, fail_run, note, start_run
from ingest.s3.client import client_for, layout_for
from ingest.s3.keys import Layout, etag_of
from ingest.s3.objects import LEDGER_META, head_of

# A failed file may be retried when its failure left it somewhere (moved to the Failed Files
# Directory, or kept in the source directory), no retry of it was ingested or is under way,
# and no run holds it for a retry (a finished retry run that found nothing to take lets go).
RETRYABLE = (
    Q(outcome=FileVerdict.FAILED, state__in=[FileState.MOVED, FileState.RETAINED])
    & ~Exists(SourceFile.objects.filter(retry_of=OuterRef("pk")))
    & (Q(retry_run__isnull=True) | Q(retry_run__finished_at__isnull=False))
)


class RetryRefused(RunRefused):
    """A retry cannot start; str() says why."""


def retryable(files: QuerySet[SourceFile]) -> QuerySet[SourceFile]:
    return files.filter(RETRYABLE)


def claimable(files: QuerySet[SourceFile]) -> list[tuple[int, int | None]]:
    """(id, retry_run id as read) of the retryable files: each is claimed only if its
    retry_run still holds what was read."""
    return list(retryable(files).values_list("pk", "retry_run_id"))


def request_retry(connector: Connector, files: QuerySet[SourceFile], *, user: Any) -> Run:
    """A run of trigger "retry" (started by `user`) holding the retryable files among
    `files`; raises RunRefused saying why none can be retried (the connector is disabled,
    its owner may not write into its entity, or no file may be retried)."""
    candidates = claimable(files.filter(connector=connector))
    if not candidates:
        raise RetryRefused(
            "There is no failed file to retry: each has been retried already, is being "
            "retried now, or was not left anywhere to retry from."
        )
    with transaction.atomic():
        run = start_run(connector, trigger=RunTrigger.RETRY, user=user)
        claimed = 0
        for file_id, seen in candidates:
            # The claim: only where no other request has changed retry_run since it was read.
            claimed += SourceFile.objects.filter(pk=file_id, retry_run_id=seen).update(
                retry_run=run
            )
        if not claimed:
            raise RetryRefused("Those files are being retried by another run already.")
    return run


@sensitive_variables()  # botocore, below it, signs with the secret: keep it out of error reports
def execute_retry(run_id: int, *, dispatch: Dispatch, give_up_on_transient: bool = True) -> Run:
    """Take each file the retry run holds again, from where its failure left it, and hand
    the new entries to `dispatch` in batches; a file gone or changed since it failed is named
    on the run instead (the run fails if no file could be taken)."""
    run = Run.objects.select_related("connector").get(pk=run_id)
    if run.finished_at is not None or run.listed_at is not None:
        return run  # already done (a redelivered task)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    connector = run.connector
    refusal = run_refusal(connector)
    if not connector.enabled:
        refusal = f"Connector {connector.name!r} was disabled before the retry started."
    if refusal is not None:
        return fail_run(run, f"{refusal} Nothing was retried.")
    try:
        client = client_for(connector)
    except S3AccessError as exc:
        if exc.transient and not give_up_on_transient:
            raise TransientIngestError(str(exc)) from exc
        return fail_run(run, f"Could not connect to S3: {exc}. Nothing was retried.")
    layout = layout_for(connector)
    taken: list[tuple[int, int]] = []
    problems: list[str] = []
    for failed in SourceFile.objects.filter(retry_run=run, connector=connector).order_by("pk"):
        entry = _take_again(client, layout, run, failed)
        if isinstance(entry, str):
            problems.append(entry)
        else:
            taken.append(entry)
    if not taken:
        return fail_run(run, " ".join(problems) or "No file was left to retry.")
    for problem in problems:
        note(run.pk, problem)
    for batch in in_batches(taken):
        dispatch(run.pk, batch)
    Run.objects.filter(pk=run.pk).update(
        listed_at=timezone.now(), files_seen=SourceFile.objects.filter(run=run).count()
    )
    complete_if_done(run.pk)
    return Run.objects.get(pk=run.pk)


def location_of(failed: SourceFile) -> str:
    """Where the spec's rules left a failed file: its copy in the Failed Files Directory, or
    the source directory when it was kept there."""
    return failed.destination_key if failed.state == FileState.MOVED else failed.key


def _take_again(client: Any, layout: Layout, run: Run, failed: SourceFile) -> tuple[int, int] | str:
    """(id, size) of the new ledger entry for the failed file's object, or why there is none."""
    where = location_of(failed)
    try:
        head = head_of(client, layout.bucket, where)
    except (ClientError, BotoCoreError) as exc:
        return f"{where}: not retried: {describe_error(exc, action='Reading it')}."
    if head is None:
        return f"{where}: not retried: it is no longer in the bucket."
    etag = etag_of(head["ETag"])
    if not _same_as_failed(head, failed):
        return (
            f"{where}: not retried: it changed since it failed (ETag {etag}, not "
            f"{failed.etag}); nothing else was ingested in its place. A fixed file put in "
            "the source directory is ingested by the next run."
        )
    version = {
        "connector_id": failed.connector_id,
        "key": where,
        "etag": etag,
        "last_modified": head["LastModified"],
        "attempt": failed.attempt + 1,
    }
    try:
        with transaction.atomic():
            entry = SourceFile.objects.create(
                **version, run=run, size=head["ContentLength"], retry_of=failed
            )
    except IntegrityError:  # taken already: by this run (a redelivered task), or another
        entry = SourceFile.objects.get(**version)
        if entry.run_id != run.pk:
            return f"{where}: not retried: another run has taken it already."
    return entry.pk, entry.size


def _same_as_failed(head: dict[str, Any], failed: SourceFile) -> bool:
    """Whether the object is the one the failed file's routing left: the version ingested
    (same ETag), or, in the Failed Files Directory, the copy this entry wrote of it (a
    multipart copy has an ETag of its own)."""
    if etag_of(head["ETag"]) == failed.etag:
        return True
    ours = head.get("Metadata", {}).get(LEDGER_META) == str(failed.pk)
    return failed.state == FileState.MOVED and ours and head["ContentLength"] == failed.size
