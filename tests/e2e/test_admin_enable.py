"""From discovery to a working integration in the admin (LGF-101 … LGF-104), against the sandbox
over real HTTP: the discovery overview with each form's next step, and the Enable page, which
creates the CRM fields the operator picked, maps, schedules, and lands on the integration."""

import re

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from connectors.models import LeadForm
from mappings.models import FieldMapping, Integration
from sandbox.crm.models import CrmField as SandboxCrmField

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def discovered(cli, crm_account, linkedin_tokens):
    """CRM and LinkedIn connected and discovered; nothing enabled yet."""
    assert cli("crm", "add", "crm", "--account-id", crm_account["account_id"],
               "--secret-key", crm_account["secret_key"]).code == 0
    t = linkedin_tokens
    assert cli("linkedin", "add", "alex", "--access-token", t["access_token"], "--refresh-token", t["refresh_token"],
               "--expires-in", str(t["expires_in"])).code == 0
    assert cli("discover").code == 0
    return LeadForm.objects.filter(event__isnull=False).order_by("linkedin_id").first()


def choices(page, name):
    return re.findall(rf'name="{name}" value="([^"]+)"', page)


def test_enable_creates_the_chosen_crm_fields_maps_them_and_schedules(admin_client, discovered):
    url = reverse("admin:connectors_leadform_enable", args=[discovered.pk])
    page = admin_client.get(url).content.decode()
    offered = choices(page, "create_fields")
    assert len(offered) >= 3, "the form has more fields than the CRM's standard ones"
    custom_before = SandboxCrmField.objects.filter(is_custom=True).count()

    picked = offered[:2]
    response = admin_client.post(url, {"_enable": "1", "crm_connection": discovered_crm(), "sync_every_minutes": "30",
                                       "create_fields": picked})

    integration = Integration.objects.get(form=discovered)
    assert response.status_code == 302 and response.url == reverse("admin:mappings_integration_change",
                                                                   args=[integration.pk])
    assert SandboxCrmField.objects.filter(is_custom=True).count() == custom_before + 2
    for value in picked:
        kind, key = value.split(":", 1)
        row = FieldMapping.objects.get(integration=integration, source_kind=kind, source_key=key)
        assert row.crm_field, f"{value} is mapped to the field made for it"
    unpicked = offered[2]
    kind, key = unpicked.split(":", 1)
    assert FieldMapping.objects.get(integration=integration, source_kind=kind, source_key=key).crm_field == ""
    task = PeriodicTask.objects.get(pk=integration.periodic_task_id)
    assert task.enabled and task.interval.every == 30


def discovered_crm():
    from connectors.models import CrmConnection

    return str(CrmConnection.objects.get(name="crm").pk)


def test_enable_refuses_what_makes_no_sense_and_creates_nothing(admin_client, discovered):
    url = reverse("admin:connectors_leadform_enable", args=[discovered.pk])
    page = admin_client.post(url, {"_enable": "1", "crm_connection": discovered_crm(),
                                   "sync_every_minutes": "999999999"}).content.decode()
    assert "Ensure this value is less than or equal to 10080" in page
    draft = LeadForm.objects.get(state="DRAFT")
    page = admin_client.post(reverse("admin:connectors_leadform_enable", args=[draft.pk]),
                             {"_enable": "1", "crm_connection": discovered_crm(), "sync_every_minutes": "15"})
    assert "draft form: LinkedIn sends it no leads" in page.content.decode()
    assert not Integration.objects.exists()


def test_the_discovery_overview_shows_every_form_with_its_next_step(admin_client, discovered, cli):
    assert cli("enable", discovered.linkedin_id, "--crm", "crm").code == 0
    page = admin_client.get(reverse("admin:connectors_leadform_discovery")).content.decode()
    for form in LeadForm.objects.all():
        assert f'data-form-id="{form.linkedin_id}"' in page, form
    integration = Integration.objects.get(form=discovered)
    assert reverse("admin:mappings_integration_change", args=[integration.pk]) in page
    other = LeadForm.objects.exclude(pk=discovered.pk).exclude(state="DRAFT").first()
    assert reverse("admin:connectors_leadform_enable", args=[other.pk]) in page
    assert "Open integration (active)" in page and ">Enable<" in page


def test_a_form_with_an_integration_goes_to_it_instead_of_enabling_twice(admin_client, discovered, cli):
    assert cli("enable", discovered.linkedin_id, "--crm", "crm").code == 0
    response = admin_client.get(reverse("admin:connectors_leadform_enable", args=[discovered.pk]))
    assert response.status_code == 302
    assert response.url == reverse("admin:mappings_integration_change", args=[Integration.objects.get().pk])


def test_the_mapping_editor_creates_a_crm_field_for_an_unmapped_source_and_maps_it(admin_client, discovered, cli):
    assert cli("enable", discovered.linkedin_id, "--crm", "crm", "--no-create-fields").code == 0
    integration = Integration.objects.get(form=discovered)
    change = admin_client.get(reverse("admin:mappings_integration_change", args=[integration.pk])).content.decode()
    url = reverse("admin:mappings_integration_create_crm_fields", args=[integration.pk])
    assert url in change
    offered = choices(admin_client.get(url).content.decode(), "sources")
    assert offered
    custom_before = SandboxCrmField.objects.filter(is_custom=True).count()

    response = admin_client.post(url, {"sources": offered[:1]}, follow=True)

    assert "Created and mapped 1 CRM field(s)" in response.content.decode()
    kind, key = offered[0].split(":", 1)
    row = FieldMapping.objects.get(integration=integration, source_kind=kind, source_key=key)
    assert row.crm_field and SandboxCrmField.objects.filter(is_custom=True).count() == custom_before + 1
    assert offered[0] not in choices(admin_client.get(url).content.decode(), "sources"), "mapped now"

    # The CLI twin: list what could be made, then make one; one the CRM has is never made twice.
    listed = cli("mapping", "create-fields", discovered.linkedin_id, "--json")
    assert listed.code == 0 and offered[0] not in [s["source"] for s in listed.json["suggested"]]
    second = listed.json["suggested"][0]["source"]
    made = cli("mapping", "create-fields", discovered.linkedin_id, second, "--json")
    assert made.code == 0 and [m["source_key"] for m in made.json["mapped"]] == [second.split(":", 1)[1]]
    assert cli("mapping", "create-fields", discovered.linkedin_id, second).code == 1, "nothing left to do for it"
