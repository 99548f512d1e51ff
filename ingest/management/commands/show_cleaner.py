"""manage.py show_cleaner: print the fast-path cleaner the writer generates for an entity type."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from connectors.models import IntegrationType
from entities.models import EntityType
from entities.validation import FieldSpec
from ingest.types import IngestConfig, Tolerance
from ingest.writing.compiled import block_cleaner_source, row_cleaner_source
from ingest.writing.plan import plan_for


class Command(BaseCommand):
    help = (
        "Print the source of the cleaner the ingest writer generates (ingest.writing.compiled) "
        "for an entity type, each field read from a column of its name: the one for rows read "
        "one by one, or with --block the one for plain CSV lines (--dicts: as on SQLite)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("entity_type", help="the entity type's name")
        parser.add_argument("--block", action="store_true", help="the plain-lines cleaner")
        parser.add_argument(
            "--dicts",
            action="store_true",
            help="with --block: records as dicts (SQLite) instead of JSON text (PostgreSQL)",
        )
        parser.add_argument(
            "--integration-type",
            default=IntegrationType.UPSERT,
            choices=[t for t in IntegrationType.values if t != IntegrationType.PATCH],
        )

    def handle(self, *args: Any, **options: Any) -> None:
        entity = EntityType.objects.filter(name=options["entity_type"]).first()
        if entity is None:
            raise CommandError(f"no entity type is named {options['entity_type']!r}")
        fields = tuple(FieldSpec.from_field(field) for field in entity.fields.all())
        config = IngestConfig(
            entity.pk,
            options["integration_type"],
            fields,
            {field.name: field.name for field in fields},
            Tolerance(),
            0,
            None,
        )
        plan = plan_for(config)
        if options["block"]:
            header = tuple(mapped.column for mapped in plan.mapped)
            encoded = not options["dicts"]
            source = block_cleaner_source(plan, header, encoded=encoded, clean_block=False)
        else:
            source = row_cleaner_source(plan)
        self.stdout.write(source)
