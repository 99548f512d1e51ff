"""The built-in entity types: System (Case) and Standard (Profile, Account, Knowledge Base
Article). Custom ones are added by administrators in Django admin."""

from django.db import migrations

# (name, category, description, [(field, type, required, unique, max_length)])
BUILTIN = [
    ("Case", "system", "Customer service cases.", [
        ("case_number", "text", True, True, 64),
        ("subject", "text", True, False, 255),
        ("status", "text", False, False, 32),
        ("priority", "text", False, False, 32),
        ("description", "text", False, False, None),
        ("customer_email", "email", False, False, 254),
        ("opened_at", "datetime", False, False, None),
    ]),
    ("Profile", "standard", "People: customers and contacts.", [
        ("profile_id", "text", True, True, 64),
        ("first_name", "text", False, False, 100),
        ("last_name", "text", False, False, 100),
        ("email", "email", False, False, 254),
        ("phone", "phone", False, False, 32),
        ("birth_date", "date", False, False, None),
        ("loyalty_points", "integer", False, False, None),
    ]),
    ("Account", "standard", "Companies and organisations.", [
        ("account_id", "text", True, True, 64),
        ("name", "text", True, False, 255),
        ("industry", "text", False, False, 100),
        ("website", "text", False, False, 255),
        ("employees", "integer", False, False, None),
        ("annual_revenue", "decimal", False, False, None),
    ]),
    ("Knowledge Base Article", "standard", "Help content.", [
        ("article_id", "text", True, True, 64),
        ("title", "text", True, False, 255),
        ("body", "text", False, False, None),
        ("category", "text", False, False, 100),
        ("published", "boolean", False, False, None),
        ("published_at", "datetime", False, False, None),
    ]),
]


def create_builtin(apps, schema_editor):
    EntityType = apps.get_model("entities", "EntityType")
    EntityField = apps.get_model("entities", "EntityField")
    for name, category, description, fields in BUILTIN:
        entity, _ = EntityType.objects.get_or_create(
            name=name, defaults={"category": category, "description": description}
        )
        for position, (field, field_type, required, unique, max_length) in enumerate(fields):
            EntityField.objects.get_or_create(
                entity_type=entity,
                name=field,
                defaults={
                    "field_type": field_type,
                    "required": required,
                    "is_unique_identifier": unique,
                    "max_length": max_length,
                    "position": position,
                },
            )


class Migration(migrations.Migration):
    dependencies = [("entities", "0001_initial")]
    operations = [migrations.RunPython(create_builtin, migrations.RunPython.noop)]
