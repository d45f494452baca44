"""Read-only queries over leads and runs (no side effects)."""

from django.db.models import Count, Max, Q

from connectors.linkedin.forms import form_fields
from connectors.models import CrmConnection, LeadForm, LeadFormVersion, LinkedInConnection
from leads.models import Lead
from mappings.models import Integration

LEAD_STATES = [state for state, _ in Lead.State.choices]


def lead_counts_by_integration():
    """{integration_id: {state: count}} in one query."""
    counts = {}
    rows = Lead.objects.values("integration_id", "state").annotate(n=Count("id")).order_by()
    for row in rows:
        counts.setdefault(row["integration_id"], dict.fromkeys(LEAD_STATES, 0))[row["state"]] = row["n"]
    return counts


def status_overview(*, now=None):
    """Everything `leadsync status` shows: connections with token state, integrations and lead
    counts. Secrets are never part of it."""
    linkedin = [
        {
            "name": c.name,
            "member": c.member_name,
            "member_urn": c.member_urn,
            "status": c.status,
            "token": c.token_state(now),
            "access_token_expires_at": c.access_token_expires_at,
            "refresh_token_expires_at": c.refresh_token_expires_at,
            "has_refresh_token": c.has_refresh_token,
            "scopes": c.scopes,
            "last_heartbeat_at": c.last_heartbeat_at,
            "last_heartbeat_ok": c.last_heartbeat_ok,
            "last_error": c.last_error,
        }
        for c in LinkedInConnection.objects.defer("access_token").order_by("name")
    ]
    crm = [
        {
            "name": c.name,
            "api_url": c.api_url.split("?", 1)[0],
            "account_id": c.account_id,
            "status": c.status,
            "fields": c.field_count,
            "last_checked_at": c.last_checked_at,
            "last_error": c.last_error,
        }
        for c in CrmConnection.objects.defer("secret_key").annotate(field_count=Count("fields")).order_by("name")
    ]
    counts = lead_counts_by_integration()
    empty = dict.fromkeys(LEAD_STATES, 0)
    integrations = [
        {
            "id": i.pk,
            "name": str(i),
            "form_id": i.form.linkedin_id,
            "crm": i.crm_connection.name,
            "state": i.state,
            "sync_every_minutes": i.sync_every_minutes,
            "watermark": i.watermark,
            "last_sync_at": i.last_sync_at,
            "leads": counts.get(i.pk, empty),
        }
        for i in Integration.objects.select_related("form", "crm_connection").order_by("name", "pk")
    ]
    totals = dict(empty)
    for per in counts.values():
        for state, n in per.items():
            totals[state] += n
    return {"linkedin_connections": linkedin, "crm_connections": crm, "integrations": integrations, "leads": totals}


def failed_leads(*, form_ids=None):
    qs = Lead.objects.filter(state=Lead.State.FAILED).select_related("integration__form")
    if form_ids:
        qs = qs.filter(Q(integration__form__linkedin_id__in=form_ids))
    return qs


def lead_form_fields(*, form: LeadForm) -> dict:
    """Every field `form` has had, as `form_fields()` reads a version: the newest version's
    questions, hidden fields and consents in its order, then those only older versions had
    (marked `"retired": True`), so the answers to a question a later version dropped still have a
    column. Empty lists when no version was read yet. One query."""
    definitions = (LeadFormVersion.objects.filter(form=form).order_by("-version")
                   .values_list("definition", flat=True))
    merged = {"questions": [], "hidden_fields": [], "consents": []}
    seen = {kind: set() for kind in merged}
    for index, definition in enumerate(definitions):
        fields = form_fields(definition or {})
        for kind, key in (("questions", "id"), ("hidden_fields", "name"), ("consents", "id")):
            for field in fields[kind]:
                if field[key] not in seen[kind]:
                    seen[kind].add(field[key])
                    merged[kind].append({**field, "retired": index > 0})
    return merged


def lead_forms_with_lead_counts():
    """Every form that has or had an integration, with how many leads are stored for it and when
    the newest was submitted, ordered by name. One query, whatever the number of forms."""
    return (LeadForm.objects.filter(pk__in=Integration.objects.values("form_id"))
            .select_related("owner")
            .annotate(lead_count=Count("integrations__leads"),
                      last_submitted_at=Max("integrations__leads__submitted_at"))
            .order_by("name", "pk"))


def run_progress(run) -> dict:
    """A run's progress as the admin's bars poll it: counts and states only, never a lead's data.
    `percent` is None while the total is not known yet (the pull reads pages until LinkedIn has no
    more); a run that succeeded is at 100."""
    from leads.models import SyncRun

    finished = run.state in (SyncRun.State.SUCCEEDED, SyncRun.State.FAILED)
    total, done = run.progress_total, run.progress_done
    if run.state == SyncRun.State.SUCCEEDED:
        percent = 100
    elif total is None:
        percent = None
    else:
        percent = 100 if total == 0 else min(100, int(done * 100 / total))
    if run.state == SyncRun.State.QUEUED:
        stage = "waiting for a worker"
    elif finished:
        stage = run.get_state_display().lower()
    else:
        stage = "reading leads from LinkedIn" if total is None else "pushing leads to the CRM"
    return {"run": run.pk, "state": run.state, "stage": stage, "done": done, "total": total, "percent": percent,
            "finished": finished, "pulled": run.pulled, "created": run.created, "updated": run.updated,
            "failed": run.failed}
