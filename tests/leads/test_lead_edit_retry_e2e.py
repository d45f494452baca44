"""A lead the CRM refused for what the member typed is fixed in the admin and retried: the sandbox
CRM, over real HTTP, receives the edited answers, and the retries from the admin and from
`leadsync retry-failed` are on the leads' history."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leads import tasks
from leads.models import Lead, LeadEvent
from sandbox.crm.models import CrmLead
from tests.e2e.conftest import cli, crm_account, crm_fault, event_integration, linkedin_tokens, sandbox  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def answer_key(lead, predefined):
    return next(key for key, answer in lead.answers["answers"].items() if answer.get("predefined_field") == predefined)


def test_the_retry_after_an_edit_pushes_the_edited_answers(
    cli, event_integration, client, django_user_model, monkeypatch, django_capture_on_commit_callbacks  # noqa: F811
):
    crm_fault(reject_email=".", reject_code=205, reject_message="Invalid parameters")
    assert cli("sync", "--days", "90", "--json").code == 0
    failed = list(Lead.objects.filter(integration=event_integration, state="failed").order_by("pk"))
    assert len(failed) >= 3 and not CrmLead.objects.exists()
    victim, raw = failed[0], failed[0].raw
    typo = victim.email
    crm_fault(reject_email=f"^{re.escape(typo)}$")  # now the CRM refuses only the mistyped address

    user = django_user_model.objects.create_user("rhea", password="pw-rhea-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leads",
                                                         codename__in=["view_lead", "change_lead"]))
    client.force_login(user)
    monkeypatch.setattr("leads.tasks.retry_failed.delay", lambda *args, **kw: tasks.retry_failed(*args, **kw))
    url = reverse("admin:leads_lead_answers", args=[victim.pk])
    form = client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    rows = {(row["kind"], row["key"]): f"a{i}" for i, row in enumerate(form.rows)}
    data[rows[("question", answer_key(victim, "EMAIL"))]] = "fixed." + typo
    data[rows[("question", answer_key(victim, "FIRST_NAME"))]] = "Edited"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**data, "_retry": "Save and retry"})

    victim.refresh_from_db()
    assert victim.state == "synced" and victim.raw == raw
    [crm] = CrmLead.objects.all()
    assert crm.email_lower == ("fixed." + typo).lower() and crm.data["firstName"] == "Edited"
    assert list(victim.events.values_list("kind", "actor", "via")) == [
        ("edited", "rhea", "admin"), ("retried", "rhea", "admin")]

    # The CLI's twin: the next mistyped lead fixed and pushed again from the command line.
    second, typo2 = failed[1], failed[1].email
    key = answer_key(second, "EMAIL")
    crm_fault(reject_email=f"^({re.escape(typo)}|{re.escape(typo2)})$")
    result = cli("edit-answers", second.linkedin_id, "--answer", f"{key}=fixed.{typo2}", "--retry", "--json")
    assert result.code == 0, result.out + result.err
    second.refresh_from_db()
    assert result.json["retry"]["lead_state"] == "synced" == second.state
    assert CrmLead.objects.filter(email_lower=f"fixed.{typo2}".lower()).exists()
    assert list(second.events.values_list("kind", "actor", "detail")) == [
        ("edited", "cli", {"changes": [{"kind": "question", "key": key, "before": typo2, "after": f"fixed.{typo2}"}]}),
        ("retried", "cli", {"run": result.json["retry"]["run"]})]

    crm_fault(reset=True)  # (a repeat submitter may share a mistyped address)
    result = cli("retry-failed", event_integration.form.linkedin_id, "--json")

    assert result.code == 0, result.out + result.err
    [run] = result.json["runs"]
    others = Lead.objects.filter(pk__in=[lead.pk for lead in failed[2:]])
    assert all(lead.state == "synced" for lead in others)
    retried = list(LeadEvent.objects.filter(actor="cli", kind="retried").exclude(lead=second).order_by("lead_id"))
    assert [e.lead_id for e in retried] == sorted(lead.pk for lead in others), "each retried lead, once"
    assert all((e.kind, e.via, e.detail) == ("retried", "cli", {"run": run["run"]}) for e in retried)
