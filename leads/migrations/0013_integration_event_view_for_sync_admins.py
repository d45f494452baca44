"""The "Lead sync admins" may read the integrations' audit trail (IntegrationEvent); nobody may add,
change or delete an event (its admin refuses those to superusers too), and the "Lead reviewers"
do not see it."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Lead sync admins"
CODENAMES = ("view_integrationevent",)


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs this one now.
    create_permissions(global_apps.get_app_config("mappings"), verbosity=0, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*Permission.objects.filter(content_type__app_label="mappings", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=GROUP):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="mappings", codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0012_lead_event"),
        ("leads", "0005_lead_sync_admins_group"),
        ("mappings", "0008_integration_event"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
