"""What an alert says: its subject, its plain-text body (the e-mail) and its JSON payload (the
webhook), for a finished run, for files not moved, and for a connector the system disabled.
Links are absolute (LOADBAY_BASE_URL)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from connectors.models import Connector
from ingest.models import FileVerdict, Run, SourceFile

FIRST_FILES = 5  # failed files an alert names, each with its reason
FIRST_ROW_ERRORS = 3  # row errors named per failed file


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    payload: dict[str, Any]


def absolute(path: str) -> str:
    return f"{settings.LOADBAY_BASE_URL}{path}"


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _connector(connector: Connector) -> dict[str, Any]:
    return {
        "id": connector.pk,
        "name": connector.name,
        "entity": connector.entity_type.name,
        "url": absolute(connector.get_absolute_url()),
    }


def for_run(run: Run, event: str) -> Message:
    connector = run.connector
    failed = list(
        SourceFile.objects.filter(run=run, outcome=FileVerdict.FAILED)
        .prefetch_related("row_errors")
        .order_by("id")[: FIRST_FILES + 1]
    )
    more = max(0, run.files_failed - FIRST_FILES)
    files = [_failed_file(f) for f in failed[:FIRST_FILES]]
    run_url = absolute(run.get_absolute_url())
    what = (
        " failed"
        if event == "run_failed"
        else f": {run.files_failed} file{'s' if run.files_failed != 1 else ''} failed"
    )
    subject = f"[Loadbay] {connector.name}: run #{run.pk}{what}"
    lines = [
        f"Connector: {connector.name} (entity {connector.entity_type.name})",
        f"Run: {run.pk} ({run.get_trigger_display()}), {run.get_status_display()}",
        f"Finished: {run.finished_at:%Y-%m-%d %H:%M:%S %Z}" if run.finished_at else "",
        f"Files: {run.files_seen} seen, {run.files_succeeded} succeeded, {run.files_failed} failed",
        f"Records: {run.records_created} created, {run.records_updated} updated, "
        f"{run.records_deleted} deleted, {run.records_failed} failed",
    ]
    if run.error:
        lines += ["", f"Why the run failed: {run.error}"]
    if files:
        lines += ["", "First failed files:"]
        for item in files:
            lines.append(f"- {item['key']}: {item['reason']}")
            lines += [
                f"    line {e['line']}{' ' + e['column'] if e['column'] else ''}: {e['reason']}"
                for e in item["row_errors"]
            ]
        if more:
            lines.append(f"... and {more} more failed file{'s' if more != 1 else ''}.")
    lines += ["", f"Run page: {run_url}", ""]
    payload = {
        "event": event,
        "connector": _connector(connector),
        "run": {
            "id": run.pk,
            "url": run_url,
            "status": run.status,
            "trigger": run.trigger,
            "error": run.error,
            "started_at": _when(run.started_at),
            "finished_at": _when(run.finished_at),
            "files": {
                "seen": run.files_seen,
                "succeeded": run.files_succeeded,
                "failed": run.files_failed,
            },
            "records": {
                "created": run.records_created,
                "updated": run.records_updated,
                "deleted": run.records_deleted,
                "failed": run.records_failed,
            },
        },
        "failed_files": files,
        "more_failed_files": more,
    }
    return Message(subject, "\n".join(line for line in lines if line is not None), payload)


def _failed_file(source_file: SourceFile) -> dict[str, Any]:
    errors = list(source_file.row_errors.all()[:FIRST_ROW_ERRORS])
    return {
        "key": source_file.key,
        "reason": source_file.failure_reason or "failed",
        "row_errors": [{"line": e.line, "column": e.column, "reason": e.reason} for e in errors],
    }


def for_files_not_moved(
    connector: Connector, new: list[SourceFile], waiting: int, hours: int
) -> Message:
    """`new`: the files not alerted on before; `waiting`: all those not moved for `hours`."""
    named = new[:FIRST_FILES]
    more = len(new) - len(named)
    subject = (
        f"[Loadbay] {connector.name}: {len(new)} file{'s' if len(new) != 1 else ''} not moved "
        f"for more than {hours} hour{'s' if hours != 1 else ''}"
    )
    page = absolute(connector.get_absolute_url())
    lines = [
        f"Connector: {connector.name} (entity {connector.entity_type.name})",
        f"{waiting} file(s) ingested more than {hours} hour(s) ago are not where the "
        f"connector's rules say; {len(new)} of them newly:",
        *[f"- {f.key} (run {f.run_id}): {f.route_error or 'not moved yet'}" for f in named],
        *([f"... and {more} more."] if more else []),
        "",
        f"Connector page: {page}",
        "",
    ]
    payload = {
        "event": "files_not_moved",
        "connector": _connector(connector),
        "hours": hours,
        "files_waiting": waiting,
        "new_files": [
            {
                "key": f.key,
                "run": f.run_id,
                "run_url": absolute(f.run.get_absolute_url()) if f.run else None,
                "ingested_at": _when(f.ingested_at),
                "reason": f.route_error,
            }
            for f in named
        ],
        "more_new_files": more,
    }
    return Message(subject, "\n".join(lines), payload)


def for_connector_disabled(connector: Connector, reason: str) -> Message:
    page = absolute(connector.get_absolute_url())
    subject = f"[Loadbay] {connector.name}: disabled by the system"
    body = (
        f"Connector: {connector.name} (entity {connector.entity_type.name})\n"
        f"Loadbay disabled it: {reason}\nIt does not run until someone enables it again.\n\n"
        f"Connector page: {page}\n"
    )
    payload = {"event": "connector_disabled", "connector": _connector(connector), "reason": reason}
    return Message(subject, body, payload)
