# The row-error model takes its first name back (issue 15: one RowError name; the parsed
# row's problem is ingest.types.RowProblem).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0004_row_error_entry"),
    ]

    operations = [
        migrations.RenameModel(
            old_name="RowErrorEntry",
            new_name="RowError",
        ),
    ]
