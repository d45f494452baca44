"""A ready-made group for the people who run LeadSync without being superusers: they connect
LinkedIn and CRM accounts, enable forms and edit their mappings, tear integrations down and
recreate them, work the leads (export included) and watch the runs, notifications and schedules.
They never manage users or groups: who may do what stays with the superusers. Admins add people to
it in the admin, as they do to "Lead reviewers"."""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Lead sync admins"
PERMISSIONS = [
    # Connections (tokens and secrets stay write-only in their admin) and what discovery found.
    *(("connectors", f"{action}_{model}")
      for model in ("linkedinconnection", "crmconnection") for action in ("view", "add", "change", "delete")),
    *(("connectors", f"view_{model}")
      for model in ("crmfield", "linkedinowner", "linkedinevent", "leadform", "leadformversion")),
    # Integrations and their mappings; `add` is what enabling a form in the admin asks for.
    ("mappings", "view_integration"), ("mappings", "add_integration"), ("mappings", "change_integration"),
    ("mappings", "delete_integration"), ("mappings", "view_fieldmapping"), ("mappings", "change_fieldmapping"),
    # Leads and what moved them.
    ("leads", "view_lead"), ("leads", "change_lead"), ("leads", "delete_lead"), ("leads", "export_lead"),
    ("leads", "view_syncrun"), ("leads", "view_leadnotification"), ("leads", "change_leadnotification"),
    # The beat schedules the integrations and the heartbeat run on (made and changed by LeadSync).
    ("django_celery_beat", "view_periodictask"),
]


def create_group(apps, schema_editor):
    for app_label in sorted({app_label for app_label, _ in PERMISSIONS}):
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
        ("leads", "0004_lead_export_permission"),
        ("connectors", "0006_discovery_gone_at"),
        ("mappings", "0004_integration_mapping_review"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
