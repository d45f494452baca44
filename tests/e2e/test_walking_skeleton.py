"""Issue #3 end to end, over real HTTP: a seeded sandbox, then `discover`, `enable` and
`sync --days 90`; every non-test lead of the enabled forms is in the sandbox CRM exactly once,
with its standard fields and multiple-choice answers as option text; a second sync creates nothing."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from connectors.models import LeadForm, LinkedInOwner
from leads.models import Lead
from mappings.models import FieldMapping
from sandbox.crm.models import CrmLead
from sandbox.linkedin import models as li

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]

STANDARD = {"FIRST_NAME": "firstName", "LAST_NAME": "lastName", "COMPANY_NAME": "companyName", "JOB_TITLE": "title"}


def seed_and_connect(cli, crm_account, leads=150):
    call_command("sandbox_seed", "--leads", str(leads), "--json", stdout=StringIO())
    token = li.AccessToken.objects.filter(revoked_at__isnull=True).order_by("-created").first()
    assert cli("crm", "add", "crm", "--account-id", crm_account["account_id"], "--secret-key", crm_account["secret_key"]).code == 0
    result = cli("linkedin", "add", "alex", "--access-token", token.token, "--json")
    assert result.code == 0, result.err
    assert token.token not in result.out + result.err
    return result.json


def _text(value):
    if isinstance(value, dict):
        return next(iter((value.get("localized") or {}).values()), "")
    return value or ""


def expected_crm_values(lead):
    """What the CRM should hold for a sandbox lead, computed from the sandbox's own data."""
    questions = {q["questionId"]: q for q in lead.form_version.questions}
    values = {}
    for answer in lead.answers:
        question = questions[answer["questionId"]]
        predefined = question.get("predefinedField")
        if predefined in STANDARD:
            values[STANDARD[predefined]] = answer.get("text")
        elif predefined == "EMAIL" or (predefined == "WORK_EMAIL" and "emailAddress" not in values):
            values["emailAddress"] = answer.get("text")
        elif "options" in answer:
            options = {o["id"]: _text(o["text"]) for o in question["questionDetails"]["multipleChoiceQuestionDetails"]["options"]}
            values[("choice", question["questionId"])] = [options[i] for i in answer["options"]]
    return values


def test_discover_enable_sync_puts_every_lead_in_the_crm_exactly_once(cli, crm_account):
    seed_and_connect(cli, crm_account)

    result = cli("discover", "--json")
    assert result.code == 0, result.err
    discovered = result.json

    # Only organizations where the member may read leads (ADMINISTRATOR, LEAD_GEN_FORMS_MANAGER).
    readable = set(li.OrganizationRole.objects.filter(
        member__first_name="Alex", role__in=["ADMINISTRATOR", "LEAD_GEN_FORMS_MANAGER"], state="APPROVED",
    ).values_list("organization_id", flat=True))
    found = set(LinkedInOwner.objects.filter(kind="organization").values_list("urn", flat=True))
    assert found == {f"urn:li:organization:{i}" for i in readable}
    assert li.OrganizationRole.objects.filter(member__first_name="Alex", role="ANALYST").exists()

    # Every form with all its questions, hidden fields and consents.
    for form in LeadForm.objects.all():
        sandbox_form = li.LeadForm.objects.get(pk=int(form.linkedin_id))
        current = sandbox_form.versions.order_by("-version").first()
        definition = form.versions.get(version=current.version).definition
        assert len(definition["questions"]) == len(current.questions)
        assert len(definition["hidden_fields"]) == len(current.hidden_fields)
        assert len(definition["consents"]) == len(current.legal_info.get("consents", []))
    # The events that carry a form, and only those, are linked to it.
    with_forms = li.Event.objects.filter(organizer_id__in=readable, lead_form__isnull=False)
    assert discovered["connections"][0]["events_with_forms"] == with_forms.count()
    assert LeadForm.objects.filter(event__isnull=False).count() == with_forms.count()

    event_forms = list(LeadForm.objects.filter(event__isnull=False))
    for form in event_forms:
        assert cli("enable", form.linkedin_id, "--crm", "crm").code == 0

    result = cli("sync", "--days", "90", "--json")
    assert result.code == 0, result.err
    assert all(run["state"] == "succeeded" for run in result.json["runs"])

    since = timezone.now() - timedelta(days=90)
    expected = list(li.Lead.objects.filter(
        form_version__form_id__in=[int(f.linkedin_id) for f in event_forms], test_lead=False,
        submitted_at__gte=since + timedelta(minutes=1),
    ).select_related("form_version"))
    assert expected, "the seed should give the event forms leads in the last 90 days"
    crm_leads = {c.email_lower: c for c in CrmLead.objects.all()}
    emails = Counter(expected_crm_values(l)["emailAddress"].lower() for l in expected)
    # Exactly once: one CRM lead per distinct e-mail, and nothing else in the CRM.
    assert set(crm_leads) == set(emails)
    assert CrmLead.objects.count() == len(emails)
    assert not Lead.objects.filter(state="failed").exists()

    checked_choices = 0
    for lead in expected:
        values = expected_crm_values(lead)
        if emails[values["emailAddress"].lower()] > 1:
            continue  # later submissions of the same person update the CRM lead
        data = crm_leads[values["emailAddress"].lower()].data
        for field in STANDARD.values():
            if values.get(field):
                assert data[field] == values[field], (field, lead.pk)
        for key, texts in values.items():
            if isinstance(key, tuple) and texts:
                # The option texts of the version this lead answered, exactly (form 6083001's
                # versions 1 and 2 word their options differently).
                crm_field = FieldMapping.objects.get(integration__form__linkedin_id=str(lead.form_version.form_id),
                                                     source_kind="question", source_key=str(key[1])).crm_field
                assert data[crm_field] == ", ".join(texts), (lead.pk, lead.form_version.version)
                checked_choices += 1
    assert checked_choices, "the seed should answer some multiple-choice questions"

    # A second sync pulls the same window and creates nothing new.
    before = CrmLead.objects.count()
    result = cli("sync", "--days", "90", "--json")
    assert result.code == 0
    assert sum(r["created"] for r in result.json["runs"]) == 0
    assert sum(r["new"] for r in result.json["runs"]) == 0
    assert CrmLead.objects.count() == before


def test_every_answer_shape_guest_and_unicode_leads_round_trip(cli, crm_account):
    seed_and_connect(cli, crm_account, leads=200)
    assert cli("discover").code == 0
    forms = list(LeadForm.objects.filter(event__isnull=False))
    for form in forms:
        assert cli("enable", form.linkedin_id, "--crm", "crm").code == 0
    assert cli("sync", "--days", "90").code == 0

    stored = {l.linkedin_id: l for l in Lead.objects.all()}
    sandbox_leads = li.Lead.objects.filter(pk__in=list(stored), test_lead=False)
    shapes = Counter(l.shape for l in sandbox_leads)
    assert len(shapes) == 3, f"the seed should use all three answer shapes: {shapes}"
    for lead in sandbox_leads:
        mine = stored[lead.pk]
        assert mine.state == "synced", (lead.shape, mine.last_error)
        values = expected_crm_values(lead)
        answers = {a["predefined_field"]: a["value"] for a in mine.answers["answers"].values() if a["predefined_field"]}
        assert answers.get("FIRST_NAME") == values.get("firstName"), lead.shape
        assert answers.get("EMAIL", answers.get("WORK_EMAIL")) == values.get("emailAddress"), lead.shape
        assert (mine.submitter_urn is None) == (not lead.submitter)
    assert any(not l.submitter for l in sandbox_leads), "the seed should have guest leads"
    non_ascii = [l for l in stored.values() if l.state == "synced" and any(ord(c) > 127 for c in str(l.answers))]
    assert non_ascii, "the seed should have unicode names"
    for lead in non_ascii[:10]:
        first = next(a["value"] for a in lead.answers["answers"].values() if a["predefined_field"] == "FIRST_NAME")
        crm = CrmLead.objects.get(email_lower=lead.email.lower())
        if Lead.objects.filter(email__iexact=lead.email).count() == 1:
            assert crm.data["firstName"] == first
