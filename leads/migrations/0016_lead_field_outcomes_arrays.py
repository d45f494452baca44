"""Lead.field_outcomes stored as one array an outcome instead of one object (OutcomesField).

The five keys were half of each outcome's text, and the push rewrites every lead's outcomes: the
narrower row makes each of those writes cheaper (bench/README.md, tenth round). Code reads the same
objects either way; this rewrites the leads already stored so that the admin's filters on the
stored text (leads.admin.leads._status_outcome), which spell the array form only, find them. The
reverse turns the arrays back into objects. Batches of 500, so a large table is never held in memory.
"""

from django.db import migrations

from leadsync_project.fields import OutcomesField

BATCH = 500


def _rewrite(apps, convert):
    Lead = apps.get_model("leads", "Lead")  # its field_outcomes reads and writes the stored text as it is
    batch = []
    for lead in Lead.objects.exclude(field_outcomes=[]).only("pk", "field_outcomes").iterator(chunk_size=BATCH):
        new = convert(lead.field_outcomes)
        if new != lead.field_outcomes:
            lead.field_outcomes = new
            batch.append(lead)
        if len(batch) == BATCH:
            Lead.objects.bulk_update(batch, ["field_outcomes"])
            batch = []
    if batch:
        Lead.objects.bulk_update(batch, ["field_outcomes"])


def to_arrays(apps, schema_editor):
    _rewrite(apps, OutcomesField.stored)


def to_objects(apps, schema_editor):
    _rewrite(apps, OutcomesField.expanded)


class Migration(migrations.Migration):

    dependencies = [("leads", "0015_lead_json_lz4")]

    operations = [migrations.RunPython(to_arrays, to_objects)]
