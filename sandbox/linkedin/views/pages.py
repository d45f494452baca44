"""Human pages of the sandbox: an index of what exists, and "register for an event" as a member would."""

from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from ..models import Event, Lead, LeadForm, Organization, WebhookDelivery
from ..serializers import localized_text
from ..services import LeadRejected, lead_submit


def index(request):
    context = {
        "organizations": Organization.objects.prefetch_related("events__lead_form", "lead_forms").order_by("id"),
        "sponsored_forms": LeadForm.objects.filter(ad_account__isnull=False).select_related("ad_account"),
        "lead_count": Lead.objects.count(),
    }
    return TemplateResponse(request, "sandbox_linkedin/index.html", context)


def _fields(form, version):
    """The questions and consents of `version`, ready for the template."""
    locale = form.locale
    fields = []
    multi = set(version.multi_select_question_ids or [])
    for q in version.questions:
        details = q.get("questionDetails", {})
        options = details.get("multipleChoiceQuestionDetails", {}).get("options")
        fields.append({
            "id": q["questionId"],
            "label": localized_text(q.get("question"), locale) or q["name"],
            "required": q.get("responseRequired", True),
            "options": [(o["id"], localized_text(o.get("text"), locale)) for o in options] if options else None,
            "multiple": q["questionId"] in multi,
            "max_length": details.get("textQuestionDetails", {}).get("maxResponseLength") or 300,
            "predefined": q.get("predefinedField", ""),
        })
    consents = [
        {"id": c["id"], "text": localized_text(c.get("consent"), locale), "required": c.get("checkRequired", False)}
        for c in version.legal_info.get("consents", [])
    ]
    return fields, consents


@require_http_methods(["GET", "POST"])
def event_register(request, event_id):
    event = get_object_or_404(Event.objects.select_related("organizer", "lead_form"), id=event_id)
    form = event.lead_form
    version = form.latest_version if form else None
    context = {"event": event, "form": form, "version": version, "error": None}
    if version is None:
        return TemplateResponse(request, "sandbox_linkedin/register.html", context, status=404 if not form else 200)
    fields, consents = _fields(form, version)
    context.update(fields=fields, consents=consents, posted=request.POST)
    if request.method == "POST":
        answers = []
        for field in fields:
            key = f"q{field['id']}"
            if field["options"]:
                picked = [int(v) for v in request.POST.getlist(key) if v.isdigit()]
                if picked:
                    answers.append({"questionId": field["id"], "options": picked})
            elif request.POST.get(key, "").strip():
                answers.append({"questionId": field["id"], "text": request.POST[key]})
        consent_answers = [{"consentId": c["id"], "accepted": f"c{c['id']}" in request.POST} for c in consents]
        missing = [c["text"] for c in consents if c["required"] and f"c{c['id']}" not in request.POST]
        try:
            if missing:
                raise LeadRejected("Please accept: " + "; ".join(missing))
            lead = lead_submit(
                form, answers=answers, consents=consent_answers, associated_event=event,
                guest=request.POST.get("guest") == "1", test=request.POST.get("test") == "1",
            )
        except LeadRejected as exc:
            context["error"] = str(exc)
            return TemplateResponse(request, "sandbox_linkedin/register.html", context, status=400)
        return redirect(f"{request.path}?registered={lead.id}")
    registered = request.GET.get("registered")
    if registered:
        context["lead"] = Lead.objects.filter(id=registered).first()
        context["deliveries"] = context["lead"] and _deliveries(context["lead"])
    return TemplateResponse(request, "sandbox_linkedin/register.html", context)


def _deliveries(lead):
    return WebhookDelivery.objects.filter(lead_urn=lead.urn).order_by("id")
