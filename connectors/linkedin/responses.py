"""One leadFormResponses element, in any of the three answer shapes LinkedIn has served, turned
into our NormalizedLead: the lead's id, type, owner, form version, submission time, associated
entity, campaign, and every answer, consent and hidden field read against the form's definition.

LGF-109: a single bad field must never block a lead. Field-level problems become entries in
"errors" and the lead goes through; BadPayload is raised only when there is no usable lead at
all. Messages name ids and fields, never answer values: they end up in logs and in the admin.
Pure functions: no Django, no HTTP.
"""

import math

from connectors.exceptions import BadPayload
from connectors.linkedin.forms import hidden_fields
from connectors.linkedin.restli import union_member
from connectors.linkedin.times import from_epoch_ms
from connectors.linkedin.urns import consent_id, owner_urn, parse_urn, parse_versioned_form_urn
from connectors.payloads import check_storable
_ANSWER_KINDS = ("textQuestionAnswer", "multipleChoiceAnswer")


def normalize_response(element, form_versions):
    """Normalize one lead.

    `form_versions(form_id, version)` returns the FormDefinition of that version, or None when it
    is not known; `form_versions(form_id, None)` must return the newest known version. A lead
    whose version is unknown (or not given) is read against that newest version, so option ids
    still become texts when the options did not change; `form_version` keeps the version the lead
    names. A callable rather than a mapping so a DB-backed cache loads only what a lead needs.

    A lead holding what no JSON column keeps (NaN, a lone surrogate, NUL, absurd nesting) is
    refused whole: the lead is stored as LinkedIn sent it, so cleaning the answers would not do.
    """
    check_storable(element, what="lead")
    lead_id, submitted_at, response = _required(element)
    try:
        return _normalize(element, form_versions, lead_id, submitted_at, response)
    except BadPayload:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # A shape no check above foresaw: this lead is malformed, the others are not.
        raise BadPayload(f"lead {lead_id}: unreadable ({type(exc).__name__})") from None


def _normalize(element, form_versions, lead_id, submitted_at, response):
    lead = _Lead()
    form_id, version = lead.attempt("form", _form_ref, element, default=(None, None))
    lead.load_form(form_versions, form_id, version)
    submitter = element.get("submitter")

    return {
        "id": lead_id,
        "lead_type": element.get("leadType"),
        "owner_urn": lead.attempt("owner", owner_urn, element.get("owner")),
        "form_id": form_id,
        "form_version": version,
        "submitted_at": submitted_at,
        "test_lead": element.get("testLead") is True,
        "submitter_urn": submitter if isinstance(submitter, str) and submitter else None,
        "associated_entity": lead.attempt(
            "associated_entity", _associated_entity, element.get("associatedEntity")
        ),
        "campaign_urn": lead.attempt("lead_metadata", _campaign, element.get("leadMetadata")),
        "answers": lead.answers(response.get("answers")),
        "consents": lead.consents(response.get("consentResponses")),
        "hidden_fields": lead.hidden_fields(element),
        "errors": lead.errors,
    }


MAX_ID_LENGTH = 200  # LinkedIn's response ids are a UUID and a suffix; longer is not one


def _required(element):
    if not isinstance(element, dict):
        raise BadPayload("lead is not an object")
    lead_id = element.get("id")
    if isinstance(lead_id, bool) or not isinstance(lead_id, (str, int)) or lead_id == "":
        raise BadPayload("lead has no id")
    if len(str(lead_id)) > MAX_ID_LENGTH:
        raise BadPayload(f"lead id is longer than {MAX_ID_LENGTH} characters")
    submitted_at = element.get("submittedAt")
    if (
        isinstance(submitted_at, bool)
        or not isinstance(submitted_at, (int, float))
        or (isinstance(submitted_at, float) and not math.isfinite(submitted_at))
    ):
        raise BadPayload(f"lead {lead_id}: submittedAt is missing or not a number")
    if from_epoch_ms(submitted_at) is None:
        raise BadPayload(f"lead {lead_id}: submittedAt is not a moment a calendar holds")
    response = element.get("formResponse")
    if not isinstance(response, dict):
        raise BadPayload(f"lead {lead_id}: formResponse is missing or not an object")
    return str(lead_id), int(submitted_at), response


class _Lead:
    """What normalizing one lead accumulates: the form version it is read against and the
    field-level errors."""

    def __init__(self):
        self.errors = []
        self.form = None

    def error(self, source, message):
        self.errors.append({"source": source, "message": message})

    def attempt(self, source, parse, *args, default=None):
        """`parse(*args)`, or `default` with an error entry when that one field is bad."""
        try:
            return parse(*args)
        except BadPayload as exc:
            self.error(source, exc.message)
            return default

    def load_form(self, form_versions, form_id, version):
        if form_id is None:
            return
        if version is not None:
            self.form = form_versions(form_id, version)
        if self.form is None:
            self.form = form_versions(form_id, None)
        if self.form is None:
            asked = f" (the lead answered version {version})" if version is not None else ""
            self.error("form", f"no version of form {form_id} is known{asked}")

    def where(self):
        return f"form {self.form['form_id']} version {self.form['version']}"

    def answers(self, items):
        questions = {q["id"]: q for q in self.form["questions"]} if self.form else {}
        answers = {}
        for index, answer in enumerate(self._list(items, "answers")):
            question_id = self.attempt(f"answers[{index}]", _question_id, answer)
            if question_id is None:
                continue
            source = f"question:{question_id}"
            question = questions.get(question_id)
            parsed = self.attempt(source, self._answer, answer, question_id, question)
            if parsed is not None:
                if question_id in answers:
                    self.error(source, "question answered twice; the last answer is kept")
                answers[question_id] = parsed
        return answers

    def _answer(self, answer, question_id, question):
        source = f"question:{question_id}"
        kind, details = union_member(answer.get("answerDetails") or answer.get("accepted"))
        if kind not in _ANSWER_KINDS or not isinstance(details, dict):
            found = f"{kind!r} details" if kind else "no answer details"
            raise BadPayload(f"answer has {found}; expected a text or multiple choice answer")
        if question is None and self.form is not None:
            self.error(source, f"question {question_id} is not on {self.where()}; kept as answered")
        if kind == "textQuestionAnswer":
            kind, value, option_ids = "text", details.get("answer"), []
            if not isinstance(value, (str, type(None))):
                raise BadPayload("text answer is not a string")
        else:
            kind, options = "multiple_choice", details.get("options", [])
            if not isinstance(options, list) or not all(map(_is_option_id, options)):
                raise BadPayload("multiple choice answer is not a list of option ids")
            option_ids = [str(o) for o in options]
            value = self._option_texts(option_ids, question, source)
        return {
            "name": (question or {}).get("name") or _answered_name(answer),
            "text": question["text"] if question else None,
            "predefined_field": question["predefined_field"] if question else None,
            "type": kind,
            "value": value,
            "option_ids": option_ids,
        }

    def _option_texts(self, option_ids, question, source):
        if question is None:
            if self.form is None:
                self.error(source, "option ids kept as they are: the lead's form is unknown")
            return list(option_ids)
        texts = {o["id"]: o["text"] for o in question["options"]}
        values = []
        for option_id in option_ids:
            if texts.get(option_id) is None:
                self.error(source, f"option {option_id} is not an option of {self.where()}")
                values.append(option_id)
            else:
                values.append(texts[option_id])
        return values

    def consents(self, items):
        known = {c["id"]: c for c in self.form["consents"]} if self.form else {}
        consents = {}
        for index, response in enumerate(self._list(items, "consents")):
            consent_id, inline_text = self.attempt(
                f"consents[{index}]", _consent_ref, response, default=(None, None)
            )
            if consent_id is None:
                continue
            definition = known.get(consent_id)
            if definition is None and self.form is not None:
                message = f"consent {consent_id} is not on {self.where()}"
                self.error(f"consent:{consent_id}", message)
            consents[consent_id] = {
                "text": definition["text"] if definition else inline_text,
                "accepted": response.get("accepted") is True,
            }
        return consents

    def hidden_fields(self, element):
        """The form definition's hidden fields, overridden by those a legacy `form~` projection
        (or an expanded `form` object) carries on the lead itself: those are what LinkedIn
        recorded for this very response."""
        fields = {h["name"]: h["value"] for h in self.form["hidden_fields"]} if self.form else {}
        for key in ("form", "form~"):
            projection = element.get(key)
            items = projection.get("hiddenFields") if isinstance(projection, dict) else None
            parsed = self.attempt("hidden_fields", hidden_fields, items, f"lead {key}", default=[])
            fields.update((h["name"], h["value"]) for h in parsed)
        return fields

    def _list(self, items, source):
        if items is None:
            return []
        if not isinstance(items, list):
            self.error(source, f"{source} is not a list")
            return []
        return items


def form_reference(element):
    """(form id, version or None) the lead answered, or None when it names no readable form."""
    try:
        return _form_ref(element) if isinstance(element, dict) else None
    except BadPayload:
        return None


def _form_ref(element):
    ref = element.get("versionedLeadGenFormUrn") or element.get("form")
    if isinstance(ref, dict):
        if ref.get("id") is None:
            raise BadPayload("form object has no id")
        version = ref.get("versionId")
        return str(ref["id"]), int(version) if isinstance(version, int) else None
    if ref is None:
        raise BadPayload("lead names no form (neither versionedLeadGenFormUrn nor form)")
    return parse_versioned_form_urn(ref)


def _question_id(answer):
    if not isinstance(answer, dict):
        raise BadPayload("answer is not an object")
    if answer.get("questionId") is not None:
        return str(answer["questionId"])
    if answer.get("question") is not None:
        return parse_urn(answer["question"])[1]
    raise BadPayload("answer names no question (neither questionId nor question)")


def _is_option_id(value):
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _answered_name(answer):
    """The name an answer carries itself: versioned `name`, or a legacy `question~(name)`."""
    projection = answer.get("question~")
    return answer.get("name") or (projection.get("name") if isinstance(projection, dict) else None)


def _consent_ref(response):
    """(consent id, consent text carried by the response). The versioned `consent` field holds the
    consent's text; the legacy one a URN whose last number is the consent id."""
    if not isinstance(response, dict):
        raise BadPayload("consent response is not an object")
    consent = response.get("consent")
    if response.get("consentId") is not None:
        return str(response["consentId"]), consent if isinstance(consent, str) else None
    legacy_id = consent_id(consent)
    if legacy_id is None:
        raise BadPayload("consent response has neither a consentId nor a leadGenFormConsent URN")
    return legacy_id, None


def _associated_entity(entity):
    """The kind comes from the URN itself: the union key has been spelled several ways
    (`event`, `associatedCreative`, `com.linkedin.common.OrganizationUrn`)."""
    if entity is None:
        return None
    key, urn = (None, entity) if isinstance(entity, str) else union_member(entity)
    if not isinstance(urn, str):
        raise BadPayload("associatedEntity is not a one-member union of URNs")
    try:
        key = parse_urn(urn)[0]
    except BadPayload:
        if key is None:
            raise
    return {"kind": key, "urn": urn}


def _campaign(metadata):
    if metadata is None:
        return None
    kind, details = union_member(metadata)
    if kind != "sponsoredLeadMetadata" or not isinstance(details, dict):
        raise BadPayload("leadMetadata is not a sponsoredLeadMetadata union")
    return details.get("campaign")


# What a sample lead answers to a predefined question (`sample_response`): plausible, and plainly made up.
_SAMPLE_ANSWERS = {
    "FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "EMAIL": "ada.lovelace@example.com",
    "WORK_EMAIL": "ada.lovelace@example.com", "PHONE_NUMBER": "+1 415 555 0132", "WORK_PHONE_NUMBER": "+1 415 555 0132",
    "COMPANY_NAME": "Example Analytics Ltd", "JOB_TITLE": "Head of Data", "CITY": "San Francisco",
    "STATE": "CA", "COUNTRY": "United States", "ZIP_CODE": "94103", "INDUSTRY": "Software",
}


def sample_response(definition, *, lead_type=None, submitted_at=0):
    """A NormalizedLead that answers every field of a FormDefinition with a sample value (a
    predefined question with a plausible value, another text question with its own label in
    brackets, a choice question with its first option, every consent given, hidden fields with
    their values), so a mapping can be previewed before LinkedIn has sent any lead."""
    answers = {}
    for question in definition.get("questions") or []:
        options = [o.get("text") for o in question.get("options") or []]
        value = (options[:1] if question.get("type") == "multiple_choice"
                 else _SAMPLE_ANSWERS.get(question.get("predefined_field"))
                 or f"[{question.get('label') or question.get('text') or question.get('name') or question['id']}]")
        answers[str(question["id"])] = {
            "name": question.get("name"), "text": question.get("text"), "predefined_field": question.get("predefined_field"),
            "type": question.get("type"), "value": value,
            "option_ids": [o["id"] for o in (question.get("options") or [])[:1]],
        }
    return {
        "id": "sample", "lead_type": lead_type, "owner_urn": definition.get("owner_urn"),
        "form_id": definition.get("form_id"), "form_version": definition.get("version"), "submitted_at": submitted_at,
        "test_lead": True, "submitter_urn": None, "associated_entity": None, "campaign_urn": None,
        "answers": answers,
        "consents": {str(c["id"]): {"text": c.get("text"), "accepted": True} for c in definition.get("consents") or []},
        "hidden_fields": {h["name"]: h.get("value") for h in definition.get("hidden_fields") or []},
        "errors": [],
    }
