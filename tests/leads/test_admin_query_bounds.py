"""Every admin page renders in a bounded number of queries with real volumes (issue 11): 50
integrations and 10,000 leads in every state, with their attempts, runs, notifications, person
requests, mappings, CRM fields and form versions. Each page is also rendered with ten times fewer
rows, and must need exactly as many queries: a count that grows with the data is an N+1.

The pages are found, not listed: every changelist of the admin site's registry, one change page per
model (its first row) with its delete confirmation, its add page (where adding is allowed), every
custom page a ModelAdmin's get_urls adds (a page that answers 405 to GET is a button, skipped),
every app's index, and the dashboard; then a few filtered lists the dashboard and the mapping
editor link to. A product model with no row here fails its change page's test: give it rows in
`populate`. A lead's and an integration's page are measured for a row in each state too. The
reviewer (staff in "Lead reviewers") is measured on every page they may open.

The worlds are built once for the module inside a transaction that is rolled back at the end, and
every page is rendered in both before any test runs; each test then checks one page's numbers."""

import itertools
import os
import re
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import URLPattern, reverse
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.models import (
    CrmConnection,
    CrmField,
    LeadForm,
    LeadFormVersion,
    LinkedInConnection,
    LinkedInEvent,
    LinkedInOwner,
)
from leads import health
from leads.models import Lead, LeadAttempt, LeadEvent, LeadNotification, PersonRequest, SyncRun
from mappings.models import FieldMapping, Integration, IntegrationEvent
from sandbox.linkedin.models import SandboxSettings

# The module fixture builds the worlds on the test database, which pytest-django sets up only for
# modules that ask for it; the counts are the same on PostgreSQL (make test's second pass).
pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SMALL = {"integrations": 5, "leads": 1_000}
BIG = {"integrations": 50, "leads": 10_000}

# The most queries each product page may take, for the superuser or the reviewer (whichever needs
# more: a reviewer's permissions cost two queries): measured with the big world, plus SLACK. Every
# page pays about eight for the session, the user and the banners (connections, mapping reviews,
# failed leads, beat). A page not listed (Django's, django-celery-beat's, the sandbox's, a new
# model's or a new custom page) gets its kind's default: the most its kind takes today, plus SLACK.
SLACK = 2
DEFAULT_BOUNDS = {kind: n + SLACK for kind, n in {
    "changelist": 17, "change": 14, "add": 13, "delete": 13, "custom": 8, "index": 8, "list": 17}.items()}
BOUNDS = {page_id: n + SLACK for page_id, n in {
    "add:connectors_crmconnection_add": 8,
    "add:connectors_crmfield_add": 9,
    "add:connectors_linkedinevent_add": 9,
    "add:connectors_linkedinowner_add": 9,
    "change:connectors_crmconnection_change": 10,
    "change:connectors_crmfield_change": 10,
    "change:connectors_leadform_change": 14,
    "change:connectors_leadformversion_change": 10,
    "change:connectors_linkedinconnection_change": 9,
    "change:connectors_linkedinevent_change": 10,
    "change:connectors_linkedinowner_change": 10,
    "change:leads_lead_change": 15,
    "change:leads_leadnotification_change": 10,
    "change:leads_personrequest_change": 9,
    "change:leads_syncrun_change": 12,
    "change:mappings_fieldmapping_change": 12,
    "change:mappings_integration_change": 20,
    "changelist:connectors_crmconnection_changelist": 10,
    "changelist:connectors_crmfield_changelist": 12,
    "changelist:connectors_leadform_changelist": 13,
    "changelist:connectors_leadformversion_changelist": 10,
    "changelist:connectors_linkedinconnection_changelist": 10,
    "changelist:connectors_linkedinevent_changelist": 11,
    "changelist:connectors_linkedinowner_changelist": 12,
    "changelist:leads_lead_changelist": 16,
    "changelist:leads_leadnotification_changelist": 16,
    "changelist:leads_personrequest_changelist": 12,
    "changelist:leads_syncrun_changelist": 12,
    "changelist:mappings_fieldmapping_changelist": 14,
    "changelist:mappings_integration_changelist": 12,
    "custom:connectors_leadform_discovery": 12,
    "custom:connectors_leadform_discovery_progress": 3,
    "custom:connectors_leadform_enable": 15,
    "custom:leads_lead_export": 7,
    "custom:leads_lead_form_export": 7,
    "custom:leads_lead_form_table": 17,
    "custom:leads_lead_forms": 9,
    "custom:leads_personrequest_person": 7,
    "custom:leads_syncrun_progress": 5,
    "custom:mappings_integration_backfill": 8,
    "custom:mappings_integration_create_crm_fields": 10,
    "custom:mappings_integration_export_mapping": 6,
    "custom:mappings_integration_import_mapping": 9,
    "custom:mappings_integration_progress": 6,
    "index:index": 21,  # with the CRM connections section and the last challenge answered
    "list:leads_lead_changelist?integration__id__exact={integration}": 17,
    "list:leads_lead_changelist?state__exact=failed": 16,
    "list:leads_syncrun_changelist?integration__id__exact={integration}": 12,
    "list:mappings_fieldmapping_changelist?integration__id__exact={integration}": 15,
}.items()}

# Standard ModelAdmin URL names; any other name a ModelAdmin's get_urls gives is a custom page.
STANDARD_VERBS = ("changelist", "add", "history", "delete", "change", "autocomplete")
PRODUCT_APPS = ("leads", "mappings", "connectors")


# --- the worlds ------------------------------------------------------------------------------------

_n = itertools.count(1)


def form_definition(form_id, version):
    return {
        "form_id": form_id, "version": version, "name": f"Form {form_id}",
        "questions": [
            {"id": "1", "name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME", "type": "text",
             "required": True, "max_length": 300, "options": [], "label": None},
            {"id": "2", "name": "email", "text": "Email", "predefined_field": "EMAIL", "type": "text",
             "required": True, "max_length": 300, "options": [], "label": None},
            {"id": "3", "name": "size", "text": "Company size", "predefined_field": None, "type": "multiple_choice",
             "required": False, "max_length": None, "label": "Size",
             "options": [{"id": "a", "text": "1-10", "label": None}, {"id": "b", "text": "11+", "label": None}]},
            {"id": f"v{version}", "name": f"extra{version}", "text": f"Asked in version {version}",
             "predefined_field": None, "type": "text", "required": False, "max_length": 100, "options": [],
             "label": None},
        ],
        "hidden_fields": [{"name": "utm_source", "value": "{{UTM_SOURCE}}"}],
        "consents": [{"id": "7", "text": "I agree to be contacted.", "required": False, "label": None}],
    }


def lead_answers(n):
    return {
        "answers": {
            "1": {"name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME", "value": f"Ada {n}"},
            "2": {"name": "email", "text": "Email", "predefined_field": "EMAIL", "value": f"ada{n}@example.com"},
            "3": {"name": "size", "text": "Company size", "value": ["1-10"]},
        },
        "hidden_fields": {"utm_source": "linkedin"},
        "consents": {"7": {"text": "I agree to be contacted.", "accepted": n % 2 == 0}},
    }


def populate(*, integrations, leads):
    """Add `integrations` integrations (over new LinkedIn and CRM connections, owners, events and
    forms) and `leads` leads, and more rows under the objects already there too (every
    integration's leads, runs and mappings, every form's versions, every CRM account's fields), so
    that the first object of each model, whose change page is measured, has more behind it."""
    now = timezone.now()
    n_linkedin, n_crm = max(1, integrations // 10), max(1, integrations // 17)
    linkedin = LinkedInConnection.objects.bulk_create([
        LinkedInConnection(
            name=f"member-{i}", member_name=f"Member {i}", member_urn=f"urn:li:person:m{i}",
            access_token=f"AQV-access-{i}", refresh_token=f"AQW-refresh-{i}" if i % 3 else "",
            access_token_expires_at=now + timedelta(days=i % 70 - 5),
            refresh_token_expires_at=now + timedelta(days=300), scopes=["r_marketing_leadgen_automation"],
            status=LinkedInConnection.Status.values[i % len(LinkedInConnection.Status.values)],
            discovery_status="Discovered 3 forms" if i % 2 else "",
        ) for i in (next(_n) for _ in range(n_linkedin))])
    crms = CrmConnection.objects.bulk_create([
        CrmConnection(name=f"crm-{i}", api_url="http://127.0.0.1:9/pubapi/v1.2/", account_id=f"ACC{i}",
                      secret_key=f"SECRET{i}", status=CrmConnection.Status.ACTIVE)
        for i in (next(_n) for _ in range(n_crm))])
    all_linkedin, all_crms = list(LinkedInConnection.objects.order_by("pk")), list(CrmConnection.objects.order_by("pk"))
    CrmField.objects.bulk_create([
        CrmField(connection=crm, system_name=f"field_{i}", label=f"Field {i}", data_type=("text", "int", "bit")[i % 3],
                 max_length=100, is_custom=bool(i % 2), options=["a", "b"] if i % 5 == 0 else None)
        for crm in all_crms for i in (next(_n) for _ in range(4))])
    CrmField.objects.bulk_create([
        CrmField(connection=crm, system_name=name, label=name, data_type="text", max_length=100)
        for crm in crms for name in ("firstName", "emailAddress")])

    # Owners for the new connections and for the first of all (which grows), events, and forms.
    owners = LinkedInOwner.objects.bulk_create([
        LinkedInOwner(connection=all_linkedin[0] if k % 2 else linkedin[k % len(linkedin)],
                      urn=f"urn:li:organization:{i}", name=f"Org {i}",
                      kind=LinkedInOwner.Kind.values[i % 2], role="ADMINISTRATOR",
                      gone_at=now if i % 7 == 0 else None)
        for k, i in enumerate(next(_n) for _ in range(max(2, integrations // 3)))])
    events = LinkedInEvent.objects.bulk_create([
        LinkedInEvent(owner=owners[k % len(owners)], urn=f"urn:li:event:{i}", name=f"Event {i}",
                      starts_at=now + timedelta(days=i % 30), lead_form_urn=f"urn:li:leadGenForm:{i}")
        for k, i in enumerate(next(_n) for _ in range(integrations))])
    # One form per integration, and a few more without one (for the discovery page's "Enable").
    forms = LeadForm.objects.bulk_create([
        LeadForm(owner=owners[k % len(owners)], event=events[k] if k < len(events) and k % 2 else None,
                 linkedin_id=str(10_000 + i), name=f"Form {i}",
                 state=("PUBLISHED", "PUBLISHED", "ARCHIVED", "DRAFT")[k % 4], lead_types=["EVENT"],
                 current_version=2, gone_at=now if k % 9 == 8 else None)
        for k, i in enumerate(next(_n) for _ in range(integrations + max(1, integrations // 5)))])
    version = LeadFormVersion.objects.order_by("-version").values_list("version", flat=True).first() or 0
    LeadFormVersion.objects.bulk_create([
        LeadFormVersion(form=form, version=v, definition=form_definition(form.linkedin_id, v), raw={"id": v})
        for form in LeadForm.objects.all() for v in (version + 1, version + 2)])

    interval, _ = IntervalSchedule.objects.get_or_create(every=15, period=IntervalSchedule.MINUTES)
    tasks = PeriodicTask.objects.bulk_create([
        PeriodicTask(name=f"leadsync-sync-{form.linkedin_id}", task="leads.tasks.sync_integration", interval=interval,
                     args=f"[{form.pk}]", last_run_at=now - timedelta(minutes=3))
        for form in forms[:integrations]])
    states = Integration.State.values
    new_integrations = Integration.objects.bulk_create([
        Integration(form=form, crm_connection=crms[k % len(crms)], name=f"Integration {form.linkedin_id}",
                    state=states[k % len(states)], periodic_task=task, watermark=now - timedelta(hours=k),
                    last_sync_at=now - timedelta(minutes=k), webhook_subscriptions=[f"sub-{k}"] if k % 2 else [],
                    mapping_review={"version": 2, "added": [{"source_kind": "question", "source_key": "v2"}]}
                    if k % 4 == 1 else {},
                    reconcile_result={"state": "complete", "linkedin": 3, "stored_before": 3} if k % 3 else {})
        for k, (form, task) in enumerate(zip(forms, tasks))])
    everyone = list(Integration.objects.order_by("pk"))

    # Mapping rows for every integration (new sources on the old ones).
    FieldMapping.objects.bulk_create([
        FieldMapping(integration=integration, source_kind=kind, source_key=key, source_label=label, crm_field=crm,
                     transform=transform, position=p)
        for integration in new_integrations
        for p, (kind, key, label, crm, transform) in enumerate((
            ("question", "1", "First name", "firstName", "none"), ("question", "2", "Email", "emailAddress", "lower"),
            ("question", "3", "Size", "", "none"), ("hidden", "utm_source", "utm_source", "", "none"),
            ("consent", "7", "I agree", "", "none"), ("metadata", "submitted_at", "Submitted at", "", "none")))])
    FieldMapping.objects.bulk_create([
        FieldMapping(integration=integration, source_kind="question", source_key=f"x{i}", source_label=f"Extra {i}",
                     position=100 + i)
        for integration in everyone for i in (next(_n) for _ in range(2))])

    runs = SyncRun.objects.bulk_create([
        SyncRun(integration=everyone[i % len(everyone)],
                trigger=SyncRun.Trigger.values[i % len(SyncRun.Trigger.values)],
                state=SyncRun.State.values[i % len(SyncRun.State.values)], window_start=now - timedelta(days=1),
                window_end=now, progress_done=i % 50, progress_total=50 if i % 3 else None, pulled=i % 50,
                created=i % 7, updated=i % 5, failed=i % 3, skipped=i % 2, started_at=now - timedelta(minutes=5),
                finished_at=now if i % 4 < 2 else None)
        for i in (next(_n) for _ in range(integrations * 20))])
    SyncRun.objects.filter(pk__in=[r.pk for r in runs]).update(created_at=now - timedelta(days=1))

    lead_states = Lead.State.values
    new_leads = Lead.objects.bulk_create([
        Lead(integration=everyone[i % len(everyone)], linkedin_id=f"lead-{i}", form_version=2, lead_type="EVENT",
             submitted_at=now - timedelta(hours=i % (24 * 40)), test_lead=i % 11 == 0,
             submitter_urn=f"urn:li:person:p{i}" if i % 5 else None, email=f"ada{i}@example.com",
             raw={"id": f"lead-{i}", "answers": [{"value": f"Ada {i}"}]}, answers=lead_answers(i),
             field_outcomes=[{"source_kind": "question", "source_key": "1", "crm_field": "firstName",
                              "status": ("ok", "truncated", "error")[i % 3]}],
             state=lead_states[i % len(lead_states)], attempts=i % 4, crm_id=str(i) if i % 2 else "",
             error_code=("", "205", "lost", "mapping")[i % 4], last_error="The CRM said no." if i % 4 else "",
             last_attempt_at=now - timedelta(hours=1))
        for i in (next(_n) for _ in range(leads))], batch_size=500)
    # Attempts on the new leads, and on the first leads of all, so the first lead's page has more.
    first = list(Lead.objects.order_by("pk")[:3])
    outcomes = LeadAttempt.Outcome.values
    LeadAttempt.objects.bulk_create([
        LeadAttempt(lead=lead, run=runs[k % len(runs)], at=now - timedelta(minutes=k % 600), number=a + 1,
                    outcome=outcomes[(k + a) % len(outcomes)], error_code="205" if a else "", message="refused",
                    refused_fields=["size"] if a else [])
        for k, lead in enumerate(new_leads[::4] + first * (leads // 100)) for a in range(2)], batch_size=500)

    LeadNotification.objects.bulk_create([
        LeadNotification(lead_urn=f"urn:li:leadGenFormResponse:n{i}", lead_id=f"n{i}",
                         action=LeadNotification.Action.values[i % 2], form_id=forms[i % len(forms)].linkedin_id,
                         lead_type="EVENT", owner_urn="urn:li:organization:1", occurred_at=now,
                         payload={"leadGenFormResponse": f"urn:li:leadGenFormResponse:n{i}"},
                         state=LeadNotification.State.values[i % len(LeadNotification.State.values)])
        for i in (next(_n) for _ in range(leads // 10))], batch_size=500)
    PersonRequest.objects.bulk_create([
        PersonRequest(kind=PersonRequest.Kind.values[i % 3], via=PersonRequest.Via.values[i % 3],
                      requested_by="admin", email_digest=f"{i:064x}", leads=i % 4,
                      outcome=PersonRequest.Outcome.values[i % 2])
        for i in (next(_n) for _ in range(leads // 100))])
    User.objects.bulk_create([User(username=f"staff-{i}", is_staff=True) for i in (next(_n) for _ in range(5))])
    # History: events on the first leads (their pages show them) and on every integration's trail.
    LeadEvent.objects.bulk_create([
        LeadEvent(lead=lead, at=now - timedelta(minutes=k), kind=LeadEvent.Kind.values[k % len(LeadEvent.Kind.values)],
                  actor="admin", via=LeadEvent.Via.values[k % len(LeadEvent.Via.values)], detail={"run": 1})
        for k, lead in enumerate(first * (leads // 100) + new_leads[::50])], batch_size=500)
    IntegrationEvent.objects.bulk_create([
        IntegrationEvent(integration=integration, at=now - timedelta(minutes=k),
                         kind=IntegrationEvent.Kind.values[k % len(IntegrationEvent.Kind.values)], actor="admin",
                         via=IntegrationEvent.Via.values[k % len(IntegrationEvent.Via.values)],
                         summary="Done.", detail={})
        for integration in Integration.objects.order_by("pk") for k in range(3)], batch_size=500)


# --- the pages -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    """One page to measure: `kind` (changelist, change, add, delete, custom, index, list), its URL
    name, and what its URL's arguments name (`model` whose first row fills them, or its first row
    with the `state` given) or its query string."""

    kind: str
    name: str
    model: type | None = None
    params: tuple = ()
    query: str = ""
    state: str = ""

    @property
    def id(self):
        return (f"{self.kind}:{self.name}" + (f"[{self.state}]" if self.state else "")
                + (f"?{self.query}" if self.query else ""))

    def product(self):
        return self.model is not None and self.model._meta.app_label in PRODUCT_APPS

    def sandbox(self):
        return "sandbox_" in self.name or "sandbox_" in self.query


def _first(model):
    return model._default_manager.order_by("pk").first()


def _first_integration_form():
    integration = _first(Integration)
    return integration.form if integration else None


# The row a custom page's URL argument names, when it is not the first row of the page's model.
PARAM_ROWS = {
    ("connectors_leadform_discovery_progress", "pk"): lambda: _first(LinkedInConnection),
    # A form that can be enabled (one with an integration redirects to it).
    ("connectors_leadform_enable", "pk"): lambda: LeadForm.objects.filter(
        integrations=None, state="PUBLISHED", gone_at=None).order_by("pk").first(),
    # A form's pages show its leads: the first integration's form.
    ("leads_lead_form_table", "form_pk"): _first_integration_form,
    ("leads_lead_form_export", "form_pk"): _first_integration_form,
    # The answers can be edited on a failed lead (a synced one's page redirects to the lead).
    ("leads_lead_answers", "pk"): lambda: Lead.objects.filter(state=Lead.State.FAILED).order_by("pk").first(),
}


def pages() -> list[Page]:
    site = admin.site
    found = [Page("index", "index")]
    for label in sorted({m._meta.app_label for m in site._registry}):
        found.append(Page("index", "app_list", query=f"app_label={label}"))
    for model, model_admin in site._registry.items():
        info = model._meta.app_label, model._meta.model_name
        found.append(Page("changelist", "%s_%s_changelist" % info, model))
        if model._meta.app_label.startswith("sandbox_"):
            continue  # the simulator's own pages: its lists are enough (they hold no rows here)
        found.append(Page("change", "%s_%s_change" % info, model, ("object_id",)))
        found.append(Page("add", "%s_%s_add" % info, model))
        found.append(Page("delete", "%s_%s_delete" % info, model, ("object_id",)))
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            verb = pattern.name[len("%s_%s_" % info):]
            if verb in STANDARD_VERBS:
                continue
            params = tuple(re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern)))
            found.append(Page("custom", pattern.name, model, params))
    # A lead's and an integration's page differ with their state: one page per state.
    for model in (Lead, Integration):
        info = model._meta.app_label, model._meta.model_name
        found += [Page("change", "%s_%s_change" % info, model, ("object_id",), state=state)
                  for state in model.State.values]
    # The lists the dashboard's numbers and the mapping editor link to.
    found += [Page("list", "leads_lead_changelist", Lead, query="state__exact=failed"),
              Page("list", "leads_lead_changelist", Lead, query="integration__id__exact={integration}"),
              Page("list", "mappings_fieldmapping_changelist", FieldMapping,
                   query="integration__id__exact={integration}"),
              Page("list", "leads_syncrun_changelist", SyncRun, query="integration__id__exact={integration}")]
    return found


PAGES = pages()


def url_of(page: Page) -> str | None:
    """The page's URL in the current world, or None when there is no row to show."""
    args = []
    for param in page.params:
        if page.state:
            row = page.model._default_manager.filter(state=page.state).order_by("pk").first()
        else:
            row = PARAM_ROWS.get((page.name, param), lambda: _first(page.model))()
        if row is None:
            return None
        args.append(row.pk)
    kwargs = {}
    if page.name == "app_list":
        kwargs, page_query = {"app_label": page.query.split("=", 1)[1]}, ""
    else:
        page_query = page.query.format(integration=getattr(_first(Integration), "pk", 0))
    url = reverse(f"admin:{page.name}", args=args, kwargs=kwargs or None)
    return url + (f"?{page_query}" if page_query else "")


def measure(client, page):
    """The status, queries and time of one GET of the page (None when there is no row to show),
    the response read to its end (a streamed CSV runs its queries while it is read). The caches
    that would make the first request differ from the next are emptied first, so every page is
    measured the same way in both worlds."""
    url = url_of(page)
    if url is None:
        return None
    cache.delete(health.CACHE_KEY)
    ContentType.objects.clear_cache()
    started = time.monotonic()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    seconds = time.monotonic() - started
    error = "".join(traceback.format_exception(*response.exc_info)) if response.exc_info else ""
    return {"url": url, "status": response.status_code, "count": len(captured), "error": error, "seconds": seconds,
            "queries": [q["sql"] for q in captured.captured_queries]}


@pytest.fixture(scope="module")
def measured(django_db_setup, django_db_blocker):
    """{world: {user: {page id: measurement}}} for the small world, then the big one."""
    results = {}
    # The health probes of the banners and the dashboard ask no broker (under `make test` it is a
    # real Redis with no worker: each ping would wait its timeout); beat's state is still read.
    # Nor does the test client copy the context of every template rendered (each option of each
    # select is one), nor is the sidebar drawn (the app list it shows is read all the same): they
    # took much of the module's time and make no query.
    with django_db_blocker.unblock(), transaction.atomic(), override_settings(CELERY_BROKER_URL="memory://"), \
            mock.patch("django.test.client.store_rendered_templates", lambda *args, **kwargs: None), \
            mock.patch.object(admin.site, "enable_nav_sidebar", False):
        root = User.objects.create_superuser("root", password="pw-root-123")
        rita = User.objects.create_user("rita", password="pw-rita-123", is_staff=True)
        rita.groups.add(Group.objects.get(name="Lead reviewers"))
        clients = {}
        for name, user in (("superuser", root), ("reviewer", rita)):
            # A page that crashes fails its own test (with its traceback), not the whole module.
            clients[name] = Client(raise_request_exception=False)
            clients[name].force_login(user)
        # Else the first sandbox page that needs it makes it, with more queries in the small world.
        SandboxSettings.load()
        populate(**SMALL)
        for world, grow in (("small", None), ("big", {k: BIG[k] - SMALL[k] for k in BIG})):
            if grow:
                populate(**grow)
            # The sandbox's pages are refused to the reviewer (the last test checks one): not measured.
            results[world] = {name: {page.id: None if name == "reviewer" and page.sandbox() else measure(client, page)
                                     for page in PAGES}
                              for name, client in clients.items()}
        assert Lead.objects.count() == BIG["leads"] and Integration.objects.count() == BIG["integrations"]
        transaction.set_rollback(True)
    cache.delete(health.CACHE_KEY)
    if os.environ.get("LEADSYNC_QUERY_REPORT"):  # to set BOUNDS: each page's counts, small and big
        for user, per_page in results["big"].items():
            for page_id, big in per_page.items():
                small = results["small"][user][page_id]
                if big is not None:
                    print(f"{user:10} {big['status']} {small['count']:3} {big['count']:3} "
                          f"{small['seconds']:5.2f} {big['seconds']:5.2f} s {page_id}")
                    if page_id == os.environ["LEADSYNC_QUERY_REPORT"]:
                        print("\n".join(q[:300] for q in big["queries"]))
    return results


def _report(m):
    return f"{m['count']} queries for {m['url']}:\n  " + "\n  ".join(m["queries"])


def _check(measured, page, user):
    small, big = measured["small"][user][page.id], measured["big"][user][page.id]
    if big is None:
        if page.product():
            pytest.fail(f"No {page.model._meta.label} row to open {page.id}: add some in populate().")
        pytest.skip("no row to show" if measured["big"]["superuser"][page.id] is None else "not measured")
    assert small is not None, f"{page.id}: no row with fewer rows (populate() should make one each round)."
    if user == "reviewer" and big["status"] in (302, 403, 404):
        pytest.skip("not for a reviewer")
    if page.kind == "custom" and big["status"] == 405:
        pytest.skip("a button (POST only)")
    if page.kind in ("add", "delete") and big["status"] == 403:
        pytest.skip("rows are not added or deleted here")
    assert big["status"] == 200, f"{page.id} answered {big['status']}\n{big['error']}"
    assert small["status"] == 200, f"{page.id} answered {small['status']} with fewer rows\n{small['error']}"
    assert big["count"] == small["count"], (
        f"{page.id} grows with the data (an N+1): {small['count']} queries with {SMALL}, "
        f"{big['count']} with {BIG}.\n{_report(big)}")
    # A page of a row in one state has its page's bound.
    bound = BOUNDS.get(page.id) or BOUNDS.get(page.id.split("[")[0]) or DEFAULT_BOUNDS[page.kind]
    assert big["count"] <= bound, f"{page.id}: more than {bound} queries.\n{_report(big)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.id)
def test_a_superusers_page_takes_a_bounded_number_of_queries_whatever_the_data(measured, page):
    _check(measured, page, "superuser")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.id)
def test_a_reviewers_page_takes_a_bounded_number_of_queries_whatever_the_data(measured, page):
    _check(measured, page, "reviewer")


def test_the_reviewer_opens_the_lead_list_and_the_dashboard(measured):
    """The reviewer's own pages are among those measured (not refused and skipped), and the
    connections' are not theirs."""
    reviewer = measured["big"]["reviewer"]
    for page_id in ("changelist:leads_lead_changelist", "index:index", "change:leads_lead_change",
                    "list:leads_lead_changelist?state__exact=failed"):
        assert reviewer[page_id]["status"] == 200, page_id
    for page_id in ("changelist:connectors_linkedinconnection_changelist", "change:connectors_crmconnection_change"):
        assert reviewer[page_id]["status"] == 403, page_id
    reviewers = Group.objects.get(name="Lead reviewers")
    assert not reviewers.permissions.filter(content_type__app_label__startswith="sandbox_").exists()
