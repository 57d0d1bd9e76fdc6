"""A data migration: the gift card product every shop starts with (rows a run's baseline must hold)."""

from django.db import migrations


def create_gift_card(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    Product.objects.using(schema_editor.connection.alias).create(name="Gift card", sku="GIFT", price="25.00")


def delete_gift_card(apps, schema_editor):
    Product = apps.get_model("shop", "Product")
    Product.objects.using(schema_editor.connection.alias).filter(sku="GIFT").delete()


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [migrations.RunPython(create_gift_card, delete_gift_card)]
