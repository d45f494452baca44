"""LinkedIn lead form definitions, versioned or legacy, turned into our FormDefinition: the form's
id, version, name, state, locale, and every question, hidden field and consent.

The versioned /rest/leadForms API inlines questions and legal info; the legacy Event Lead Sync
leadGenForms API only carries URNs that the caller resolves with two more calls. Both end up in
one shape so nothing downstream knows which API a form came from. Pure functions: no Django, no
HTTP. Malformed input raises BadPayload with a message that names the form and question.
"""

import re

from connectors.exceptions import BadPayload
from connectors.linkedin.restli import union_member
from connectors.linkedin.urns import owner_urn, parse_urn
from connectors.payloads import check_storable


def locale_code(locale):
    """A Locale record as MultiLocaleString keys spell it: en_US, de__POSIX, en."""
    if not isinstance(locale, dict) or not isinstance(locale.get("language"), str):
        return None
    parts = (locale.get(key) for key in ("language", "country", "variant"))
    return "_".join(p if isinstance(p, str) else "" for p in parts).rstrip("_") or None


def localized(value, locale, *, what="text"):
    """Text of a MultiLocaleString in the form's locale, then the string's own preferredLocale,
    then its first value, so a form edited in another language still shows something. Plain
    strings pass through (older payloads and our own fixtures use them)."""
    if value is None or isinstance(value, str):
        return value
    strings = value.get("localized") if isinstance(value, dict) else None
    if not isinstance(strings, dict):
        raise BadPayload(f"{what} is neither text nor a MultiLocaleString")
    for key in (locale, locale_code(value.get("preferredLocale"))):
        if key in strings:
            return strings[key]
    return next(iter(strings.values()), None)


def parse_lead_form(element, *, questions_by_urn=None, legal_info=None):
    """One form version as a FormDefinition.

    Legacy forms list question URNs and a legal info URN: pass the leadGenFormQuestions batch
    `results` as `questions_by_urn` (keyed by URN or by bare id, as the batch answer is) and the
    leadGenFormLegalInfo object as `legal_info`. An unresolved reference raises BadPayload rather
    than silently dropping a question or the consent texts; pass `legal_info={}` to go without.
    What no JSON column keeps (NaN, a lone surrogate, NUL, absurd nesting) is refused as BadPayload.
    """
    for value, what in ((element, "lead form"), (questions_by_urn, "lead form questions"),
                        (legal_info, "lead form legal info")):
        check_storable(value, what=what)
    if not isinstance(element, dict):
        raise BadPayload("lead form is not an object")
    if element.get("id") is None:
        raise BadPayload("lead form has no id")
    form_id = str(element["id"])
    content = element.get("content") or {}
    if not isinstance(content, dict):
        raise BadPayload(f"form {form_id}: content is not an object")
    locale = locale_code(element.get("creationLocale"))
    legal = _legal_info(content.get("legalInfo"), legal_info, form_id)
    consents = _list(legal.get("consents"), f"form {form_id}: consents")
    return {
        "form_id": form_id,
        "version": _version(element.get("versionId"), form_id),
        "name": element.get("name"),
        "state": element.get("state"),
        "owner_urn": owner_urn(element.get("owner")),
        "locale": locale,
        "headline": localized(content.get("headline"), locale, what=f"form {form_id} headline"),
        "questions": [
            _question(_resolve_question(ref, questions_by_urn, form_id), locale, form_id)
            for ref in _list(content.get("questions"), f"form {form_id}: questions")
        ],
        "hidden_fields": hidden_fields(element.get("hiddenFields"), f"form {form_id}"),
        "consents": [_consent(c, locale, form_id) for c in consents],
        "privacy_policy_url": legal.get("privacyPolicyUrl"),
    }


def hidden_fields(items, where):
    """[{"name", "value"}] from a hiddenFields array; shared with legacy `form~` projections."""
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(h, dict) and isinstance(h.get("name"), str) and h["name"]
                                              for h in items):
        raise BadPayload(f"{where}: hiddenFields is not a list of named fields")
    return [{"name": h["name"], "value": h.get("value")} for h in items]


def _list(value, what):
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadPayload(f"{what} is not a list")
    return value


def _version(value, form_id):
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadPayload(f"form {form_id}: versionId {value!r:.20} is not a number") from None


def _resolve_question(ref, questions_by_urn, form_id):
    if isinstance(ref, dict):
        return ref
    if isinstance(ref, str):
        found = questions_by_urn or {}
        question = found.get(ref) or found.get(parse_urn(ref)[1])
        if question is None:
            raise BadPayload(
                f"form {form_id}: question {ref} was not resolved; "
                "pass the leadGenFormQuestions results as questions_by_urn"
            )
        return question
    raise BadPayload(f"form {form_id}: a question is neither an object nor a URN")


def _question(question, locale, form_id):
    if not isinstance(question, dict):
        raise BadPayload(f"form {form_id}: a resolved question is not an object")
    question_id = question.get("questionId", question.get("id"))
    where = f"form {form_id}: question {question_id if question_id is not None else '?'}"
    if question.get("name"):
        where += f" ({question['name']})"
    if question_id is None:
        raise BadPayload(f"{where} has no questionId")
    kind, details = union_member(question.get("questionDetails"))
    details = details if isinstance(details, dict) else {}
    if kind == "textQuestionDetails":
        kind, max_length, options = "text", details.get("maxResponseLength"), []
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 0):
            raise BadPayload(f"{where}: maxResponseLength is not a number of characters")
    elif kind == "multipleChoiceQuestionDetails":
        kind, max_length = "multiple_choice", None
        options = _list(details.get("options"), f"{where}: options")
        options = [_option(o, locale, where) for o in options]
    else:
        found = f"{kind!r} details" if kind else "no questionDetails"
        raise BadPayload(
            f"{where} has {found}; only text and multiple choice questions are supported"
        )
    predefined = question.get("predefinedField")
    if predefined is not None and not isinstance(predefined, str):
        raise BadPayload(f"{where}: predefinedField is not a field name")
    return {
        "id": str(question_id),
        "name": question.get("name"),
        "label": question.get("label"),
        "text": localized(question.get("question"), locale, what=where),
        "predefined_field": predefined,
        "type": kind,
        "required": bool(question.get("responseRequired", True)),
        "max_length": max_length,
        "options": options,
    }


def _option(option, locale, where):
    if not isinstance(option, dict) or option.get("id") is None:
        raise BadPayload(f"{where} has an option without an id")
    return {
        "id": str(option["id"]),
        "text": localized(option.get("text"), locale, what=f"{where} option {option['id']}"),
        "label": option.get("label"),
    }


def _legal_info(ref, legal_info, form_id):
    if isinstance(ref, dict):
        return ref
    if ref is None:
        return legal_info or {}
    if legal_info is None:
        raise BadPayload(
            f"form {form_id}: legal info {ref!r:.80} was not resolved; "
            "pass the leadGenFormLegalInfo object as legal_info"
        )
    if not isinstance(legal_info, dict):
        raise BadPayload(f"form {form_id}: legal_info is not an object")
    return legal_info


def _consent(consent, locale, form_id):
    if not isinstance(consent, dict) or consent.get("id") is None:
        raise BadPayload(f"form {form_id}: a consent has no id")
    where = f"form {form_id} consent {consent['id']}"
    return {
        "id": str(consent["id"]),
        "text": localized(consent.get("consent"), locale, what=where),
        "required": bool(consent.get("checkRequired", False)),
        "label": consent.get("label"),
    }


_DYNAMIC_VALUE = re.compile(r"\{\{\s*[A-Za-z0-9_]+\s*\}\}")


def hidden_value_is_dynamic(value) -> bool:
    """LinkedIn fills a hidden field's `{{DYNAMIC_VALUE}}` (e.g. `{{CAMPAIGN_ID}}`) per lead; any other
    value is static, the same on every lead."""
    return isinstance(value, str) and bool(_DYNAMIC_VALUE.search(value))


def form_fields(definition: dict) -> dict:
    """Every field of a FormDefinition as an operator reads it (the admin's form page, `leadsync
    discover --json`): each question with its kind, predefined field, required flag, maximum length
    and options; each hidden field with its value and whether LinkedIn fills it per lead; each
    consent with its text. A question's `label` is the marketer's label, else its text. LinkedIn
    does not say whether a multiple-choice question takes one option or several."""
    return {
        "questions": [
            {"id": q["id"], "name": q.get("name"), "label": q.get("label") or q.get("text"), "text": q.get("text"),
             "kind": q.get("type"), "predefined_field": q.get("predefined_field"), "required": q.get("required"),
             "max_length": q.get("max_length"),
             "options": [{"id": o["id"], "text": o.get("text"), "label": o.get("label")} for o in q.get("options") or []]}
            for q in definition.get("questions") or []
        ],
        "hidden_fields": [
            {"name": h["name"], "value": h.get("value"), "dynamic": hidden_value_is_dynamic(h.get("value"))}
            for h in definition.get("hidden_fields") or []
        ],
        "consents": [
            {"id": c["id"], "text": c.get("text"), "label": c.get("label"), "required": c.get("required")}
            for c in definition.get("consents") or []
        ],
    }
