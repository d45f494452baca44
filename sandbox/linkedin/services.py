"""What changes the simulated LinkedIn: leads arriving and being deleted, lead notification
subscriptions. OAuth lives in tokens.py, fault switches in switches.py.
"""

import random

from django.utils import timezone

from sandbox import db as sandbox_db
from . import webhooks
from .generators import answers_for, lead_id as new_lead_id, make_person, tracking_id
from .models import Lead, LeadNotification, LeadType


class LeadRejected(ValueError):
    """The answers do not fit the form (unknown question, bad option, missing required answer)."""


def _normalise_answers(version, answers):
    """Accept [{"questionId", "text"|"options"}] or {question id or name: text | [option ids]}."""
    if isinstance(answers, dict):
        by_name = {q["name"]: q["questionId"] for q in version.questions}
        items = []
        for key, value in answers.items():
            qid = by_name.get(key) if not str(key).isdigit() else int(key)
            if qid is None:
                raise LeadRejected(f"Form version {version.urn} has no question {key!r}")
            items.append({"questionId": qid, "options": list(value)} if isinstance(value, (list, tuple))
                         else {"questionId": qid, "text": str(value)})
        answers = items
    clean = []
    for answer in answers:
        question = version.question(answer.get("questionId"))
        if question is None:
            raise LeadRejected(f"Form version {version.urn} has no question {answer.get('questionId')!r}")
        details = question.get("questionDetails", {})
        if "multipleChoiceQuestionDetails" in details:
            valid = {o["id"] for o in details["multipleChoiceQuestionDetails"]["options"]}
            options = [int(o) for o in answer.get("options", [])]
            if not options or not set(options) <= valid:
                raise LeadRejected(f"Question {question['name']!r} takes option ids from {sorted(valid)}")
            clean.append({"questionId": question["questionId"], "options": sorted(options)})
        else:
            text = str(answer.get("text", "")).strip()
            if text:
                clean.append({"questionId": question["questionId"], "text": text})
    answered = {a["questionId"] for a in clean}
    missing = [
        q["name"] for q in version.questions
        if q.get("responseRequired", True) and q["questionId"] not in answered
    ]
    if missing:
        raise LeadRejected(f"Required questions not answered: {', '.join(missing)}")
    return clean


def _associated_entity(form, lead_type, event, campaign):
    if lead_type == LeadType.EVENT and event is not None:
        return {"event": event.urn}
    if lead_type == LeadType.SPONSORED and campaign is not None:
        return {"sponsoredCreative": campaign.creative_urn}
    if lead_type == LeadType.COMPANY and form.organization_id:
        return {"organization": f"urn:li:organization:{form.organization_id}"}
    return None


def lead_submit(form, *, answers=None, consents=None, test=False, guest=False, associated_event=None,
                submitted_at=None, shape=None, lead_type=None, version=None, campaign=None, submitter=None,
                rng=None, notify=True, lead_id=None):
    """A member (or a guest) submits `form`: stores the lead and notifies matching subscriptions.

    Without `answers`, every question gets a plausible answer (required consents accepted). Event
    forms attach the lead to `associated_event` or to the first event using the form; sponsored
    leads carry the account's first campaign unless they are test leads. Returns the Lead; its
    webhook deliveries are on `lead.deliveries`. Raises LeadRejected for answers that do not fit.
    """
    rng = rng or random.Random()
    version = version or form.latest_version
    if version is None:
        raise LeadRejected(f"Form {form.id} has no published version")
    lead_type = lead_type or (LeadType.EVENT if associated_event else form.lead_type)
    if lead_type == LeadType.EVENT and associated_event is None:
        associated_event = form.events.order_by("id").first()
    if lead_type == LeadType.SPONSORED and campaign is None and not test and form.ad_account_id:
        campaign = form.ad_account.campaigns.order_by("id").first()
    person = make_person(rng)
    if answers is None:
        generated, generated_consents = answers_for(version, person, rng)
        answers, consents = generated, consents if consents is not None else generated_consents
    else:
        answers = _normalise_answers(version, answers)
        if consents is None:
            consents = [{"consentId": c["id"], "accepted": bool(c.get("checkRequired"))}
                        for c in version.legal_info.get("consents", [])]
    if not guest and submitter is None:
        submitter = f"urn:li:person:{person.person_id}"
    lead = Lead.objects.create(
        id=lead_id or new_lead_id(rng),
        form_version=version,
        lead_type=lead_type,
        organization_id=form.organization_id,
        ad_account_id=form.ad_account_id,
        submitter="" if guest else submitter,
        submitted_at=submitted_at or timezone.now(),
        test_lead=test,
        event=associated_event,
        associated_entity=_associated_entity(form, lead_type, associated_event, campaign),
        campaign=campaign,
        answers=answers,
        consents=consents or [],
        shape=shape or Lead.Shape.VERSIONED,
        response_id=tracking_id(rng),
    )
    lead.deliveries = webhooks.notify(lead, "CREATED") if notify else []
    return lead


submit_lead = lead_submit


def lead_delete(lead, *, notify=True):
    """LinkedIn deletes a lead (e.g. at the member's request): subscribers hear DELETED, then it is gone."""
    deliveries = webhooks.notify(lead, "DELETED") if notify else []
    lead.delete()
    return deliveries


def lead_generate_for_event(event, *, test=False, guest=False, rng=None):
    if event.lead_form_id is None:
        raise LeadRejected(f"Event {event.id} has no lead gen form: nobody can register through LinkedIn")
    return lead_submit(event.lead_form, associated_event=event, test=test, guest=guest, rng=rng,
                       lead_type=LeadType.EVENT)


@sandbox_db.atomic
def notification_create(*, member, webhook, owner, lead_type, versioned_form="", associated_entity=None):
    """Subscribe; an identical subscription is returned instead of duplicated (so re-creating an
    integration is harmless). Returns (subscription, created)."""
    existing = LeadNotification.objects.filter(
        webhook=webhook, lead_type=lead_type, versioned_form=versioned_form or ""
    )
    for sub in existing:
        if sub.owner == owner and sub.associated_entity == associated_entity:
            return sub, False
    sub = LeadNotification.objects.create(
        webhook=webhook, owner=owner, lead_type=lead_type, versioned_form=versioned_form or "",
        associated_entity=associated_entity, created_by=member,
    )
    return sub, True

