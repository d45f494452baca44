"""The whole operator journey in a real browser, with no shell command in between (LGF-101 … LGF-104,
LGF-108's schedule): a member of "Lead sync admins" connects LinkedIn through the sandbox's consent
screen, adds a CRM connection, runs discovery, enables a form choosing two of its fields to create
as CRM fields, edits the mapping (a constant and a phone number in E.164), previews the unsaved
edits, saves, pauses and resumes the integration, syncs now, and the leads are in the sandbox CRM
with the new fields filled.

LinkedIn and the CRM are the sandbox on the live server; Celery runs eagerly, so a click that queues
work has done it when the page answers."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from playwright.sync_api import expect

from connectors.models import CrmConnection, LeadForm
from mappings.models import FieldMapping, Integration
from sandbox.crm.models import CrmLead
from tests.browser.conftest import log_in_as_group_member

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

USER, PASSWORD = "sam-sync-admin", "sam-password-123"
CRM_ACCOUNT, CRM_SECRET = "JOURNEY-ACCOUNT", "journey-secret-key-42"
CONSTANT = "Acme Summit via LinkedIn"
SUMMIT_FORM = "6083001"  # its newest version asks for a phone number


@pytest.fixture
def world(live_server, settings):
    """The sandbox seeded with leads and a CRM account, and the product pointed at it."""
    settings.LINKEDIN_API_URL = f"{live_server.url}/sandbox/linkedin"
    settings.LINKEDIN_OAUTH_URL = f"{live_server.url}/sandbox/linkedin/oauth/v2"
    settings.LEADGEN_CRM_API_URL = f"{live_server.url}/sandbox/crm/pubapi/v1.2/"
    call_command("sandbox_seed", "--leads", "150", stdout=StringIO())
    call_command("sandbox_crm_account", "--account-id", CRM_ACCOUNT, "--secret-key", CRM_SECRET, stdout=StringIO())
    return live_server


@pytest.fixture
def sync_admin(page, world, django_user_model):
    """Logged in through the real login form as staff whose only rights are the group's."""
    return log_in_as_group_member(page, world, django_user_model, username=USER, password=PASSWORD,
                                  group="Lead sync admins", migration="0005_lead_sync_admins_group")


def mapping_row(page, label):
    """The mapping inline's row of the source called `label`."""
    cell = page.locator("td.field-source_label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$"))
    return page.locator("#mappings-group tr.has_original").filter(has=cell).first


def test_an_admin_goes_from_nothing_to_leads_in_the_crm_without_a_shell(sync_admin, world, eager, tmp_path):
    page, url = sync_admin, world.url

    # LinkedIn, through its consent screen.
    page.goto(f"{url}/admin/connectors/linkedinconnection/")
    page.get_by_role("link", name="Connect LinkedIn account").click()
    expect(page.get_by_role("heading")).to_contain_text("would like to access your LinkedIn account")
    page.get_by_role("button", name="Allow").click()
    expect(page.locator(".messagelist .success")).to_contain_text("Connected the LinkedIn account")

    # The CRM: the credentials are checked and the field catalogue loaded.
    page.goto(f"{url}/admin/connectors/crmconnection/add/")
    page.fill("#id_name", "Sandbox CRM")
    page.fill("#id_account_id", CRM_ACCOUNT)
    page.fill("#id_secret_key", CRM_SECRET)
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("the credentials work")
    assert CrmConnection.objects.get().fields.exists()

    # Discovery, then the summit form's next step.
    page.goto(f"{url}/admin/connectors/leadform/")
    page.locator("#discovery-overview").click()
    page.locator("#discover-now").click()
    expect(page.locator(f'tr.discovered-form[data-form-id="{SUMMIT_FORM}"]')).to_be_visible()
    page.screenshot(path=tmp_path / "discovery.png", full_page=True)
    page.locator(f'tr.discovered-form[data-form-id="{SUMMIT_FORM}"] a.form-next-step').click()

    # Enable, creating two of the form's fields in the CRM.
    expect(page.locator("#enable-form")).to_be_visible()
    boxes = page.locator("input[name=create_fields]")
    chosen = [boxes.nth(i).get_attribute("value") for i in range(2)]
    for value in chosen:
        page.locator(f'input[name=create_fields][value="{value}"]').check()
    page.locator("#enable-submit").click()
    expect(page).to_have_url(re.compile(r"/admin/mappings/integration/\d+/change/$"))
    integration = Integration.objects.get(form__linkedin_id=SUMMIT_FORM)
    created = {}
    for value in chosen:
        kind, key = value.split(":", 1)
        row = FieldMapping.objects.get(integration=integration, source_kind=kind, source_key=key)
        assert row.crm_field, f"the CRM field made for {value} is mapped"
        created[value] = row

    # The mapping: a constant into the first new field, the phone number in E.164.
    first = created[chosen[0]]
    constant_row = mapping_row(page, first.source_label)
    constant_row.locator("select[name$='-transform']").select_option("constant")
    constant_row.locator("input[name$='-transform_option']").fill(CONSTANT)
    phone_row = mapping_row(page, "Phone number")
    phone_row.locator("select[name$='-transform']").select_option("phone_e164")
    phone_row.locator("input[name$='-transform_option']").fill("US")

    # A preview of the unsaved edits; nothing is saved by it.
    page.locator("#preview-edits").click()
    expect(page.locator("#mapping-preview")).to_contain_text(CONSTANT)
    assert FieldMapping.objects.get(pk=first.pk).transform != "constant"
    page.screenshot(path=tmp_path / "preview.png", full_page=True)

    page.locator("input[name=_continue]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert FieldMapping.objects.get(pk=first.pk).transform == "constant"

    # Pause and resume: the beat entry follows.
    page.locator("#pause-integration").click()
    expect(page.locator("#resume-integration")).to_be_visible()
    assert not PeriodicTask.objects.get(pk=integration.periodic_task_id).enabled
    page.locator("#resume-integration").click()
    expect(page.locator("#pause-integration")).to_be_visible()
    assert PeriodicTask.objects.get(pk=integration.periodic_task_id).enabled

    # Sync now, from the integrations list.
    page.goto(f"{url}/admin/mappings/integration/")
    page.locator("#result_list tr", has_text=integration.name).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Sync now (pull and push)")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Queued a sync of 1 integration(s)")

    leads = list(CrmLead.objects.all())
    assert leads, "the leads are in the sandbox CRM"
    assert all(lead.data.get(first.crm_field) == CONSTANT for lead in leads)
    second = created[chosen[1]]
    assert any(lead.data.get(second.crm_field) for lead in leads), "the other new field is filled"
    phones = [lead.data["phoneNumber"] for lead in leads if lead.data.get("phoneNumber")]
    assert phones and all(re.fullmatch(r"\+\d{8,15}", phone) for phone in phones), phones[:5]
    assert LeadForm.objects.get(linkedin_id=SUMMIT_FORM).integrations.get().state == "active"
    page.screenshot(path=tmp_path / "synced.png", full_page=True)
