"""Each existing record gets the connector that last wrote it (Record.connector_id), from the
ledger entry that last wrote it (last_file_id → ingest SourceFile.connector_id), so that Sync,
which now removes only its own connector's records, keeps mirroring what it wrote before.
Records whose ledger entry is gone (its connector was deleted) belong to no connector: no Sync
removes them."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_connector(apps, schema_editor):
    Record = apps.get_model("entities", "Record")
    SourceFile = apps.get_model("ingest", "SourceFile")
    writer = SourceFile.objects.filter(pk=OuterRef("last_file_id")).values("connector_id")[:1]
    Record.objects.filter(last_file_id__isnull=False, connector_id__isnull=True).update(
        connector_id=Subquery(writer)
    )


class Migration(migrations.Migration):

    dependencies = [
        ('entities', '0007_entity_access_and_record_connector'),
        ('ingest', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(fill_connector, migrations.RunPython.noop),
    ]
