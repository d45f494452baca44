"""Stored rows → the JSON LinkedIn answers with (the legacy Event Lead Sync API and the versioned Lead Sync API).

Leads are rendered in the answer shape stored on each lead, so one page of responses can mix the
versioned, the schema (name + accepted) and the legacy (question URN) shapes, as real payloads do.
"""

from .models import Lead, to_ms


def locale_dict(locale):
    language, _, country = locale.partition("_")
    return {"country": country or "US", "language": language or "en"}


def multi_locale(text, locale="en_US"):
    return {"localized": {locale: text}, "preferredLocale": locale_dict(locale)}


def localized_text(value, locale="en_US"):
    """The text of a MultiLocaleString, preferring `locale`."""
    localized = (value or {}).get("localized", {})
    return localized.get(locale) or next(iter(localized.values()), "")


def member_userinfo(member, scopes):
    body = {
        "sub": member.person_id,
        "name": f"{member.first_name} {member.last_name}",
        "given_name": member.first_name,
        "family_name": member.last_name,
        "locale": locale_dict(member.locale),
        "picture": f"https://media.licdn.com/dms/image/sandbox/{member.person_id}.jpg",
    }
    if "email" in scopes:
        body.update(email=member.email, email_verified=True)
    return body


def member_me(member):
    preferred = locale_dict(member.locale)
    return {
        "id": member.person_id,
        "localizedFirstName": member.first_name,
        "localizedLastName": member.last_name,
        "firstName": {"localized": {member.locale: member.first_name}, "preferredLocale": preferred},
        "lastName": {"localized": {member.locale: member.last_name}, "preferredLocale": preferred},
    }


def organization(org):
    return {
        "id": org.id,
        "$URN": org.urn,
        "localizedName": org.name,
        "name": multi_locale(org.name),
        "vanityName": org.vanity_name,
        "localizedWebsite": org.website,
        "primaryOrganizationType": "NONE",
    }


def organization_acl(role):
    time = {"actor": role.member.urn, "time": to_ms(role.created)}
    return {
        "roleAssignee": role.member.urn,
        "state": role.state,
        "role": role.role,
        "organization": role.organization.urn,
        "created": time,
        "lastModified": time,
    }


def ad_account(account):
    return {
        "id": account.id,
        "name": account.name,
        "test": account.test,
        "status": account.status,
        "type": "BUSINESS",
        "currency": account.currency,
        "reference": account.organization.urn,
        "referenceInfo": {
            "organization": {"id": account.organization_id, "localizedName": account.organization.name}
        },
        "servingStatuses": ["RUNNABLE"] if account.status == "ACTIVE" else ["ACCOUNT_TOTAL_BUDGET_HOLD"],
    }


def event(ev):
    body = {
        "id": ev.id,
        "name": multi_locale(ev.name, ev.locale),
        "description": multi_locale(ev.description, ev.locale) if ev.description else None,
        "organizer": ev.organizer.urn,
        "timeRangeV2": {"startAt": to_ms(ev.starts_at), "endsAt": to_ms(ev.ends_at)},
        "type": "ONLINE",
        "vanityName": f"event-{ev.id}",
    }
    if ev.lead_form_id:
        if ev.lead_form_urn_versioned:
            latest = ev.lead_form.latest_version
            body["leadGenForm"] = latest.urn if latest else f"urn:li:leadGenForm:{ev.lead_form_id}"
        else:
            body["leadGenForm"] = f"urn:li:leadGenForm:{ev.lead_form_id}"
    return {k: v for k, v in body.items() if v is not None}


def lead_form(form, version):
    content = {"headline": version.headline, "questions": version.questions, "legalInfo": version.legal_info}
    if version.description:
        content["description"] = version.description
    if version.post_submission_info:
        content["postSubmissionInfo"] = version.post_submission_info
    body = {
        "id": form.id,
        "name": form.name,
        "owner": form.owner,
        "state": form.state,
        "creationLocale": locale_dict(form.locale),
        "created": to_ms(form.created),
        "lastModified": to_ms(max(form.last_modified, version.created)),
        "versionId": version.version,
        "content": content,
        "hiddenFields": version.hidden_fields,
    }
    if form.state != form.State.DRAFT:
        body["reviewInfo"] = {"reviewStatus": "APPROVED", "lastUpdated": to_ms(version.created), "rejectionReasons": []}
    return body


def _text_answer(shape, text):
    if shape == Lead.Shape.LEGACY:
        return {"com.linkedin.leadgenform.TextQuestionAnswer": {"answer": text}}
    return {"textQuestionAnswer": {"answer": text}}


def _choice_answer(shape, options):
    if shape == Lead.Shape.LEGACY:
        return {"com.linkedin.leadgenform.MultipleChoiceAnswer": {"options": options}}
    return {"multipleChoiceAnswer": {"options": options}}


def _answer(lead, version, answer):
    if "options" in answer:
        details = _choice_answer(lead.shape, answer["options"])
    else:
        details = _text_answer(lead.shape, answer["text"])
    qid = answer["questionId"]
    if lead.shape == Lead.Shape.LEGACY:
        return {"question": f"urn:li:leadGenFormQuestion:{qid}", "answerDetails": details}
    if lead.shape == Lead.Shape.SCHEMA:
        question = version.question(qid) or {}
        return {"questionId": qid, "name": question.get("name", ""), "accepted": details}
    return {"questionId": qid, "answerDetails": details}


def _consent(lead, version, response):
    if lead.shape == Lead.Shape.LEGACY:
        legal_id = version.legal_info.get("legalInfoId")
        return {
            "consent": f"urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:{legal_id},{response['consentId']})",
            "accepted": response["accepted"],
        }
    body = {"consentId": response["consentId"], "accepted": response["accepted"]}
    if lead.shape == Lead.Shape.SCHEMA:
        consent = next(
            (c for c in version.legal_info.get("consents", []) if c["id"] == response["consentId"]), None
        )
        if consent:
            body["consent"] = localized_text(consent.get("consent"), lead.form_version.form.locale)
    return body


def lead(lead):
    """One leadFormResponses element in the lead's own answer shape."""
    version = lead.form_version
    body = {
        "id": lead.id,
        "leadType": lead.lead_type,
        "owner": lead.owner,
        "submittedAt": to_ms(lead.submitted_at),
        "testLead": lead.test_lead,
        "formResponse": {
            "answers": [_answer(lead, version, a) for a in lead.answers],
            "consentResponses": [_consent(lead, version, c) for c in lead.consents],
        },
    }
    if lead.response_id:
        body["responseId"] = lead.response_id
    if lead.shape == Lead.Shape.LEGACY:
        body["form"] = version.urn
    elif lead.shape == Lead.Shape.SCHEMA:
        body["versionedLeadGenFormUrn"] = version.urn
        body["form"] = version.urn
    else:
        body["versionedLeadGenFormUrn"] = version.urn
    if lead.submitter:
        body["submitter"] = lead.submitter
    if lead.associated_entity:
        body["associatedEntity"] = lead.associated_entity
    if lead.campaign_id:
        key = (
            "com.linkedin.leadgenform.SponsoredLeadMetadata" if lead.shape == Lead.Shape.LEGACY
            else "sponsoredLeadMetadata"
        )
        body["leadMetadata"] = {key: {"campaign": f"urn:li:sponsoredCampaign:{lead.campaign_id}"}}
    return body


def lead_notification(sub):
    body = {"id": sub.id, "webhook": sub.webhook, "owner": sub.owner, "leadType": sub.lead_type}
    if sub.versioned_form:
        body["versionedForm"] = sub.versioned_form
    if sub.associated_entity:
        body["associatedEntity"] = sub.associated_entity
    return body
