"""Record.entity_type without a database foreign key constraint: its per-row trigger was 40% of
PostgreSQL's work loading a file. The ingest writer and EntityType deletion lock the entity
type row instead (see entities.models.Record)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("entities", "0004_record_no_separate_entity_type_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="record",
            name="entity_type",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="records",
                to="entities.entitytype",
            ),
        ),
    ]
