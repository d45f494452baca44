"""Discovered forms in the admin, with what to do next: the discovery overview (organizations, ad
accounts, events and forms, each form with "Enable" or "Open integration"), and the Enable page,
which makes a whole integration through the same service as `leadsync enable`: CRM custom fields
for what the CRM lacks (the operator picks which), auto-mapping, the beat schedule and the lead
notification subscriptions.

The form rows belong to connectors; this admin extends connectors' own with what needs the layers
above (integrations, the pipeline's tasks)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from connectors import tasks as connector_tasks
from connectors.admin import LeadFormAdmin as ConnectorsLeadFormAdmin
from connectors.admin import fields_table
from connectors.discovery import discovery_progress
from connectors.exceptions import LeadSyncError
from connectors.models import CrmConnection, LeadForm, LinkedInConnection, LinkedInEvent, LinkedInOwner
from leads.admin.common import queue_after_commit
from leads.integrations import MAX_SYNC_MINUTES, UNSYNCABLE_FORM_STATES, integration_enable
from mappings.audit import admin_user
from mappings.models import Integration, on_linkedin_delete_default
from mappings.services import crm_field_suggestions, form_definition

CRM_TYPE_NAMES = {"text": "text", "textarea": "long text", "bit": "yes/no"}


def _live_integration(form):
    """The form's integration that is not torn down, from a prefetched `integrations`, else None."""
    return next((i for i in form.integrations.all() if i.state != Integration.State.TORN_DOWN), None)


def _next_step(form) -> dict:
    """What an operator does next with a form: open its integration, recreate it, or enable it."""
    live = _live_integration(form)
    if live is not None:
        return {"label": f"Open integration ({live.get_state_display().lower()})",
                "url": reverse("admin:mappings_integration_change", args=[live.pk])}
    if form.gone_at:
        return {"label": "", "url": "", "note": "gone from LinkedIn"}
    if form.state in UNSYNCABLE_FORM_STATES:
        return {"label": "", "url": "", "note": f"{form.state.lower()}: publish it on LinkedIn, then discover again"}
    if any(i.state == Integration.State.TORN_DOWN for i in form.integrations.all()):
        return {"label": "Torn down: recreate it from Integrations",
                "url": reverse("admin:mappings_integration_changelist") + f"?q={form.linkedin_id}"}
    return {"label": "Enable", "url": reverse("admin:connectors_leadform_enable", args=[form.pk])}


class EnableForm(forms.Form):
    """What `leadsync enable` asks, as a page: the CRM, the schedule, the lead types, the test-lead
    policy, and which of the form's fields the CRM lacks to create there as custom fields."""

    crm_connection = forms.ModelChoiceField(
        queryset=CrmConnection.objects.none(), label="CRM connection",
        help_text="The CRM account the form's leads go to.")
    sync_every_minutes = forms.IntegerField(
        label="Sync every (minutes)", min_value=1, max_value=MAX_SYNC_MINUTES,
        help_text=f"How often the scheduled pull runs (1 to {MAX_SYNC_MINUTES}, a week). Webhooks, when set up, "
                  "bring leads in between.")
    lead_types = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=False,
        help_text="Which of the form's lead types to pull; none ticked: all the form receives.")
    include_test_leads = forms.BooleanField(
        required=False, label="Push test leads too",
        help_text="LinkedIn's test leads are stored either way; ticked, they also reach the CRM (off in production).")
    on_linkedin_delete = forms.ChoiceField(
        choices=Integration.OnLinkedInDelete.choices, widget=forms.RadioSelect, required=False,
        label="When LinkedIn deletes a lead",
        help_text="LeadSync always erases its own copy of the person's answers; choose whether the lead goes from the "
                  "CRM too. Preset from LEADSYNC_DELETE_CRM_LEADS; the integration's page changes it later.")
    create_fields = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, required=False, label="Create as new CRM fields",
        help_text="Fields of the form the CRM has no field for: ticked ones are created in the CRM (with this "
                  "label and type) and mapped; the others stay unmapped until you map them.")

    def __init__(self, *args, form: LeadForm, suggestions, crm_connections, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["crm_connection"].queryset = crm_connections
        self.fields["lead_types"].choices = [(t, LeadForm.LeadType(t).label) for t in form.receives()]
        self.fields["create_fields"].choices = [
            (f"{kind}:{key}", f"{field['label']} ({CRM_TYPE_NAMES.get(field['dataType'], field['dataType'])}, "
                              f"from a {kind})")
            for kind, key, field in suggestions
        ]

    def field_sources(self):
        return {tuple(value.split(":", 1)) for value in self.cleaned_data["create_fields"]}


class LeadFormAdmin(ConnectorsLeadFormAdmin):
    change_form_template = "admin/leads/leadform/change_form.html"
    change_list_template = "admin/leads/leadform/change_list.html"
    list_display = (*ConnectorsLeadFormAdmin.list_display, "next_step")
    actions = ["enable_form"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("integrations")

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("discovery/", self.admin_site.admin_view(self.discovery_view), name="%s_%s_discovery" % info),
            path("discovery/<int:pk>/progress.json", self.admin_site.admin_view(self.discovery_progress_view),
                 name="%s_%s_discovery_progress" % info),
            path("<int:pk>/enable/", self.admin_site.admin_view(self.enable_view), name="%s_%s_enable" % info),
        ] + super().get_urls()

    @admin.display(description="Next step")
    def next_step(self, obj):
        step = _next_step(obj)
        if not step["url"]:
            return step.get("note", "")
        return format_html('<a href="{}">{}</a>', step["url"], step["label"])

    @admin.action(description="Enable the selected form (one at a time)", permissions=["view"])
    def enable_form(self, request, queryset):
        forms_ = list(queryset[:2])
        if len(forms_) != 1:
            self.message_user(request, "Select one form to enable.", messages.WARNING)
            return None
        return redirect("admin:connectors_leadform_enable", forms_[0].pk)

    def _can_enable(self, request) -> bool:
        return request.user.has_perm("mappings.add_integration")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["next_step"] = _next_step(obj) if self._can_enable(request) or _live_integration(obj) else None
        return super().render_change_form(request, context, add, change, form_url, obj)

    def enable_view(self, request, pk):
        """The admin's twin of `leadsync enable FORM_ID --crm NAME`."""
        if not self._can_enable(request):
            raise PermissionDenied
        form = get_object_or_404(LeadForm.objects.select_related("owner__connection", "event")
                                 .prefetch_related("integrations"), pk=pk)
        live = _live_integration(form)
        if live is not None:
            self.message_user(request, f"{form} already has an integration.", messages.INFO)
            return redirect("admin:mappings_integration_change", live.pk)
        crm_connections = CrmConnection.objects.filter(status=CrmConnection.Status.ACTIVE).order_by("name")
        chosen = crm_connections.filter(pk=request.POST.get("crm_connection") or request.GET.get("crm") or 0).first() \
            or crm_connections.first()
        definition = form_definition(form)
        suggestions = (crm_field_suggestions(crm_connection=chosen, definition=definition)
                       if chosen is not None and definition else [])
        initial = {"crm_connection": chosen, "sync_every_minutes": settings.LEADSYNC_DEFAULT_SYNC_MINUTES,
                   "lead_types": list(form.lead_types), "on_linkedin_delete": on_linkedin_delete_default()}
        enable = EnableForm(request.POST if request.method == "POST" and "_enable" in request.POST else None,
                            initial=initial, form=form, suggestions=suggestions, crm_connections=crm_connections)
        if enable.is_bound and enable.is_valid():
            data = enable.cleaned_data
            try:
                integration = integration_enable(
                    form=form, crm_connection=data["crm_connection"], every=data["sync_every_minutes"],
                    include_test_leads=data["include_test_leads"], lead_types=data["lead_types"] or None,
                    field_sources=enable.field_sources(), create_fields=bool(data["create_fields"]),
                    on_linkedin_delete=data["on_linkedin_delete"] or None, by=admin_user(request.user),
                )
            except LeadSyncError as exc:
                enable.add_error(None, str(exc))
            else:
                mapped = integration.mappings.exclude(crm_field="").count()
                self.message_user(request, f"Enabled {form}: {mapped} of {integration.mappings.count()} sources mapped, "
                                           f"synced every {integration.sync_every_minutes} minutes. Check the mapping "
                                           "below, then “Sync now”.", messages.SUCCESS)
                return redirect("admin:mappings_integration_change", integration.pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": form, "title": f"Enable {form}",
            "enable": enable, "fields": fields_table(definition), "no_crm": chosen is None,
            "crm_add_url": reverse("admin:connectors_crmconnection_add"),
        }
        return TemplateResponse(request, "admin/leads/leadform/enable.html", context)

    def discovery_progress_view(self, request, pk):
        """One connection's discovery as its live bar on the discovery page polls it: whoever may
        see that page may, one query, the connection's status only (never its tokens)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        connection = get_object_or_404(LinkedInConnection.objects.only("id", "discovery_status"), pk=pk)
        return JsonResponse(discovery_progress(connection=connection))

    def discovery_view(self, request):
        """Everything discovery found, organization by organization, each form with its next step;
        and "Discover now" (on a worker; its progress shows on the connection)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if not request.user.has_perm("connectors.change_linkedinconnection"):
                raise PermissionDenied
            ids = list(LinkedInConnection.objects.filter(status=LinkedInConnection.Status.ACTIVE)
                       .values_list("pk", flat=True))
            queue_after_commit(self, request, [lambda pk=pk: connector_tasks.discover.delay(pk) for pk in ids],
                               f"Discovery queued for {len(ids)} connection(s); its progress shows below as it goes.")
            return redirect("admin:connectors_leadform_discovery")
        forms_ = Prefetch("forms", queryset=LeadForm.objects.select_related("event").prefetch_related("integrations")
                          .order_by("name"))
        events = Prefetch("events", queryset=LinkedInEvent.objects.order_by("-starts_at", "name"))
        # Every connection's owners in one query (their forms and events in three more), not a
        # query per connection.
        owners = Prefetch("owners", queryset=LinkedInOwner.objects.prefetch_related(forms_, events)
                          .order_by("kind", "name"))
        connections = []
        for connection in (LinkedInConnection.objects.defer("access_token", "refresh_token")
                           .prefetch_related(owners).order_by("name")):
            owners = list(connection.owners.all())
            for owner in owners:
                owner.form_rows = [{"form": f, "step": _next_step(f)} for f in owner.forms.all()]
            connections.append({"connection": connection, "owners": owners,
                                "progress": discovery_progress(connection=connection),
                                "progress_url": reverse("admin:connectors_leadform_discovery_progress",
                                                        args=[connection.pk])})
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": "What discovery found",
                   "connections": connections,
                   "can_discover": request.user.has_perm("connectors.change_linkedinconnection")}
        return TemplateResponse(request, "admin/leads/leadform/discovery.html", context)


admin.site.unregister(LeadForm)
admin.site.register(LeadForm, LeadFormAdmin)
