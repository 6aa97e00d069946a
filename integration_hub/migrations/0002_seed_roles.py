"""Seed the roles (Integration admin, Support, DPO, Viewer) as groups with their global permissions."""

from django.db import migrations


def seed_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from integration_hub.roles import ensure_roles

    # Permissions are normally created after all migrations; create those that exist now so the
    # roles get them at once. Later models join the roles through the post_migrate hook.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    ensure_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("integration_hub", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
