"""Staff who review failed leads see leads, runs and mappings and can retry, but never reach the
connections, where the tokens and secrets live, and never export leads (personal data)."""

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_reviewers_see_failed_leads_and_can_retry_them(reviewer):
    lead = factories.lead(state="failed", last_error="CRM error 205: invalid parameters")
    page = reviewer.get(reverse("admin:leads_lead_changelist") + "?state__exact=failed").content.decode()
    assert lead.email in page and "CRM error 205" in page
    assert 'value="retry"' in page
    assert reviewer.get(reverse("admin:leads_lead_change", args=[lead.pk])).status_code == 200
    assert reviewer.get(reverse("admin:leads_syncrun_changelist")).status_code == 200
    mapping = factories.field_mapping(lead.integration)
    assert reviewer.get(reverse("admin:mappings_fieldmapping_change", args=[mapping.pk])).status_code == 200


def test_reviewers_never_reach_connections_or_destructive_actions(reviewer):
    connection = factories.linkedin_connection()
    crm = factories.crm_connection()
    for url in (reverse("admin:connectors_linkedinconnection_changelist"),
                reverse("admin:connectors_linkedinconnection_change", args=[connection.pk]),
                reverse("admin:connectors_crmconnection_change", args=[crm.pk])):
        assert reviewer.get(url).status_code == 403, url
    integration = factories.integration()
    page = reviewer.get(reverse("admin:mappings_integration_changelist")).content.decode()
    assert str(integration) in page
    assert 'value="tear_down"' not in page and 'value="recreate"' not in page


def test_reviewers_keep_their_permissions_and_never_export_personal_data(reviewer):
    from django.contrib.auth.models import Group

    granted = {f"{p.content_type.app_label}.{p.codename}"
               for p in Group.objects.get(name="Lead reviewers").permissions.select_related("content_type")}
    assert granted == {"leads.view_lead", "leads.change_lead", "leads.view_syncrun", "leads.view_leadnotification",
                       "mappings.view_integration", "mappings.view_fieldmapping", "mappings.change_fieldmapping"}
    lead = factories.lead(state="failed")
    form = lead.integration.form
    # They read a form's table of leads, but nothing carries the leads off the server.
    table = reviewer.get(reverse("admin:leads_lead_form_table", args=[form.pk]))
    assert table.status_code == 200 and lead.email in table.content.decode()
    assert 'id="form-table-export-csv"' not in table.content.decode()
    page = reviewer.get(reverse("admin:leads_lead_changelist")).content.decode()
    assert 'value="export_csv"' not in page and 'id="lead-export-csv"' not in page
    for url in (reverse("admin:leads_lead_export"), reverse("admin:leads_lead_form_export", args=[form.pk])):
        response = reviewer.get(url)
        assert response.status_code == 403 and lead.email.encode() not in response.content
