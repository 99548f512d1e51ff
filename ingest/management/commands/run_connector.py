"""`manage.py run_connector`: run a connector to its end in this process and print a summary."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.models import Connector
from ingest.inline import run_inline
from ingest.models import RunStatus, RunTrigger
from ingest.runs import RunRefused, start_run
from ingest.runtime import tune_garbage_collector


class Command(BaseCommand):
    help = "Run a connector now, in this process, and print a summary."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The connector's name (or its id).")
        parser.add_argument(
            "--parallel", type=int, default=1, help="Threads processing files (default 1)."
        )

    def handle(self, *args: object, **options: str) -> None:
        connector = self._find(options["name"])
        try:
            run = start_run(connector, trigger=RunTrigger.COMMAND)
        except RunRefused as exc:
            raise CommandError(str(exc)) from None
        tune_garbage_collector()
        run = run_inline(run, parallel=int(options["parallel"]))
        self._print_summary(run)
        if run.status == RunStatus.FAILED:
            raise CommandError(run.error)

    def _find(self, name: str) -> Connector:
        matches = list(Connector.objects.filter(name=name))
        if not matches and name.isdigit():
            matches = list(Connector.objects.filter(pk=int(name)))
        if not matches:
            raise CommandError(f"No connector named {name!r}.")
        if len(matches) > 1:
            owners = ", ".join(f"{c.pk} (owner {c.owner})" for c in matches)
            raise CommandError(f"Several connectors are named {name!r}; give the id: {owners}")
        return matches[0]

    def _print_summary(self, run: object) -> None:
        from ingest.models import Run

        assert isinstance(run, Run)
        out = self.stdout
        out.write(f"Run {run.pk} of {run.connector.name!r}: {run.get_status_display()}")
        out.write(
            f"  files: {run.files_seen} seen, {run.files_succeeded} succeeded, "
            f"{run.files_failed} failed"
        )
        out.write(
            f"  records: {run.records_created} created, {run.records_updated} updated, "
            f"{run.records_deleted} deleted, {run.records_skipped} skipped, "
            f"{run.records_failed} invalid rows"
        )
        for f in run.files.order_by("id"):
            where = f.destination_key or (
                "(deleted)" if f.state == "deleted" else "(kept in source)"
            )
            line = f"  {f.key}: {f.outcome or f.state} -> {where}"
            if f.failure_reason:
                line += f"  [{f.failure_reason}]"
            if f.route_error:
                when = "" if f.state == "retained" else " yet"
                line += f"  [not moved{when}: {f.route_error}]"
            out.write(line)
        for message in run.notes:
            out.write(f"  note: {message}")
        if run.error:
            out.write(f"  error: {run.error}")
