"""Discovery over time (LGF-101 … LGF-103): a second run changes nothing when LinkedIn changed
nothing; what LinkedIn no longer lists is marked gone, never deleted; a new form version gives the
form's integration mapping rows for what it added and flags the mapping for review, while leads
keep syncing. Against the sandbox over real HTTP."""

import pytest

from connectors.discovery import discovery_run
from connectors.models import LeadForm, LeadFormVersion, LinkedInConnection, LinkedInEvent, LinkedInOwner
from leads.models import Lead
from mappings.models import FieldMapping, Integration
from sandbox.linkedin import models as li
from sandbox.linkedin.seed_data import text_question
from sandbox.linkedin.services import lead_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def snapshot():
    return {model.__name__: sorted(model.objects.values_list(), key=repr)
            for model in (LinkedInOwner, LinkedInEvent, LeadForm, LeadFormVersion)}


def discover():
    return discovery_run(connection=LinkedInConnection.objects.get())


def publish_new_version(integration, *, add=(), drop=()):
    """LinkedIn publishes a new version of the integration's form: its questions plus `add`, less `drop`."""
    form = li.LeadForm.objects.get(pk=int(integration.form.linkedin_id))
    latest = form.latest_version
    questions = [q for q in latest.questions if q["questionId"] not in drop] + list(add)
    return li.LeadFormVersion.objects.create(
        form=form, version=latest.version + 1, headline=latest.headline, description=latest.description,
        questions=questions, legal_info=latest.legal_info, hidden_fields=latest.hidden_fields,
        multi_select_question_ids=[i for i in latest.multi_select_question_ids if i not in drop],
    )


DIETARY = text_question(990001, "dietary", "Dietary requirements", required=False, max_length=200)


def test_a_second_discovery_changes_nothing_when_linkedin_changed_nothing(event_integration):
    before = snapshot()
    summary = discover()
    assert summary["changes"] == {"created": 0, "updated": 0, "gone": 0}
    assert snapshot() == before


def test_a_form_gone_from_linkedin_is_marked_gone_and_its_leads_and_mapping_stay(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0
    leads = Lead.objects.filter(integration=event_integration).count()
    mapping = list(FieldMapping.objects.filter(integration=event_integration).values_list())
    assert leads
    form = li.LeadForm.objects.get(pk=int(event_integration.form.linkedin_id))
    li.Lead.objects.filter(form_version__form=form).delete()
    form.delete()

    summary = discover()

    stored = LeadForm.objects.get(pk=event_integration.form_id)
    assert stored.gone_at is not None and summary["changes"]["gone"] >= 1
    assert Lead.objects.filter(integration=event_integration).count() == leads
    assert list(FieldMapping.objects.filter(integration=event_integration).values_list()) == mapping
    assert Integration.objects.get(pk=event_integration.pk).state == "active"
    assert LeadForm.objects.filter(gone_at__isnull=True).exists(), "the other forms are still there"
    gone_at = stored.gone_at
    discover()
    assert LeadForm.objects.get(pk=stored.pk).gone_at == gone_at, "gone since then, not gone again"


def test_a_new_form_version_found_by_discovery_adds_mapping_rows_and_flags_a_review(event_integration):
    dropped = li.LeadForm.objects.get(pk=int(event_integration.form.linkedin_id)).latest_version.questions[-1]
    publish_new_version(event_integration, add=[DIETARY], drop=[dropped["questionId"]])

    discover()

    integration = Integration.objects.get(pk=event_integration.pk)
    review = integration.mapping_review
    assert integration.mapping_needs_review and review["version"] == integration.form.versions.order_by("-version")[0].version
    assert [(a["source_kind"], a["source_key"]) for a in review["added"]] == [("question", "990001")]
    assert ("question", str(dropped["questionId"])) in [(r["source_kind"], r["source_key"]) for r in review["removed"]]
    row = FieldMapping.objects.get(integration=integration, source_kind="question", source_key="990001")
    assert row.source_label == "Dietary requirements"
    assert FieldMapping.objects.filter(integration=integration, source_key=str(dropped["questionId"])).exists(), \
        "the row of a removed question stays for the leads that answered it"


def test_a_lead_naming_a_new_version_keeps_syncing_and_its_new_question_gets_a_mapping_row(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0
    version = publish_new_version(event_integration, add=[DIETARY])
    lead = lead_submit(version.form, version=version, notify=False)

    result = cli("sync", "--json")

    assert result.code == 0, result.out + result.err
    stored = Lead.objects.get(linkedin_id=lead.id)
    assert stored.state == "synced" and stored.form_version == version.version
    integration = Integration.objects.get(pk=event_integration.pk)
    assert integration.mapping_needs_review
    assert FieldMapping.objects.filter(integration=integration, source_kind="question", source_key="990001").exists()


def _text(mls):
    return mls if isinstance(mls, str) or mls is None else next(iter(mls["localized"].values()))


def test_discover_json_names_every_question_hidden_field_and_consent_of_every_form(cli, event_integration):
    result = cli("discover", "--json")
    assert result.code == 0, result.err
    listed = {f["form_id"]: f for f in result.json["forms"]}
    sandbox_forms = li.LeadForm.objects.filter(pk__in=[int(i) for i in listed])
    assert sandbox_forms.count() == len(listed) > 3
    for form in sandbox_forms:
        version, row = form.latest_version, listed[str(form.pk)]
        questions = {q["id"]: q for q in row["questions"]}
        assert set(questions) == {str(q["questionId"]) for q in version.questions}, form
        for q in version.questions:
            mine = questions[str(q["questionId"])]
            assert mine["name"] == q["name"] and mine["text"] == _text(q["question"])
            assert mine["label"] and mine["kind"] in ("text", "multiple_choice")
            details = q["questionDetails"].get("multipleChoiceQuestionDetails")
            if details:
                assert [(o["id"], o["text"]) for o in mine["options"]] == [
                    (str(o["id"]), _text(o["text"])) for o in details["options"]]
        assert [(h["name"], h["value"]) for h in row["hidden_fields"]] == [
            (h["name"], h["value"]) for h in version.hidden_fields]
        assert [(c["id"], c["text"]) for c in row["consents"]] == [
            (str(c["id"]), _text(c["consent"])) for c in version.legal_info.get("consents", [])]


def test_the_admin_banner_counts_the_integrations_whose_mapping_needs_a_review(admin_client, event_integration):
    from django.urls import reverse

    home = reverse("admin:index")
    assert 'id="leadsync-mapping-reviews"' not in admin_client.get(home).content.decode()
    publish_new_version(event_integration, add=[DIETARY])
    discover()
    page = admin_client.get(home).content.decode()
    assert 'id="leadsync-mapping-reviews"' in page and "1 integration needs a mapping review" in page
