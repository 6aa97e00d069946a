"""Seed the register's taxonomy: data categories (with the CNIL groups and the flow designer's personal-data
tags), data-subject categories and purposes with their usual legal basis (``gdpr.taxonomy``)."""

from django.db import migrations


def seed_taxonomy(apps, schema_editor):
    from gdpr.taxonomy import ensure_taxonomy

    ensure_taxonomy(apps)


class Migration(migrations.Migration):
    dependencies = [("gdpr", "0001_initial")]

    operations = [migrations.RunPython(seed_taxonomy, migrations.RunPython.noop)]
