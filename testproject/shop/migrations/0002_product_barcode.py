# A second migration of shop, so that the db_schema check's tests can migrate it backwards.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('shop', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='barcode',
            field=models.CharField(blank=True, db_index=True, default='', max_length=32),
        ),
    ]
