"""A data migration: the category every catalog starts with (a row a run's baseline must hold)."""

from django.db import migrations


def create_default_category(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    Category.objects.using(schema_editor.connection.alias).create(name="Uncategorised")


def delete_default_category(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    Category.objects.using(schema_editor.connection.alias).filter(name="Uncategorised").delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(create_default_category, delete_default_category)]
