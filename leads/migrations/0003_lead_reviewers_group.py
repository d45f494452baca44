"""A ready-made group for the staff who review failed leads: they see leads, runs, notifications,
integrations and mappings, may fix a mapping and retry leads, and never see or change connections
(where the tokens and secrets live). Admins add people to it in the admin."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Lead reviewers"
PERMISSIONS = [
    ("leads", "view_lead"), ("leads", "change_lead"), ("leads", "view_syncrun"), ("leads", "view_leadnotification"),
    ("mappings", "view_integration"), ("mappings", "view_fieldmapping"), ("mappings", "change_fieldmapping"),
]


def create_group(apps, schema_editor):
    for app_label in ("leads", "mappings"):
        # Permissions are normally created after all migrations; this group needs them now.
        create_permissions(global_apps.get_app_config(app_label), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0002_lead_notifications"),
        ("mappings", "0002_integration_lock"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
