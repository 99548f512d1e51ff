"""Writing into an entity type now needs access to it (entities.EntityAccess), and Sync needs
delete access. The owners of existing connectors get the access their connectors use (write;
delete for Sync), so every connector keeps running; new entity types have no access until an
administrator gives it (superusers always have it)."""

from django.db import migrations

WRITE, DELETE = 1, 2  # entities.models.EntityRight


def grant_owners(apps, schema_editor):
    Connector = apps.get_model("connectors", "Connector")
    EntityAccess = apps.get_model("entities", "EntityAccess")
    needed: dict[tuple[int, int], int] = {}
    for owner_id, entity_type_id, integration_type in Connector.objects.values_list(
        "owner_id", "entity_type_id", "integration_type"
    ):
        level = DELETE if integration_type == "sync" else WRITE
        key = (owner_id, entity_type_id)
        needed[key] = max(level, needed.get(key, 0))
    for (owner_id, entity_type_id), level in needed.items():
        access, created = EntityAccess.objects.get_or_create(
            user_id=owner_id, entity_type_id=entity_type_id, defaults={"level": level}
        )
        if not created and access.level < level:
            access.level = level
            access.save(update_fields=["level"])


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0002_sync_delete_limit'),
        ('entities', '0007_entity_access_and_record_connector'),
    ]

    operations = [
        migrations.RunPython(grant_owners, migrations.RunPython.noop),
    ]
