# The poll task no longer takes a `trigger` (it was never read): beat entries saved before
# must stop sending it, or the task would refuse the call.

from django.db import migrations

POLL_TASK = "ingest.tasks.poll_connector"


def drop_trigger(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task=POLL_TASK).update(kwargs="{}")


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0003_owners_keep_entity_access"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(drop_trigger, migrations.RunPython.noop)]
