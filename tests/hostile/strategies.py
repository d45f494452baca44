"""Generators for the hostile-input suite: valid-looking LinkedIn payloads (forms, lead responses in
all three answer shapes, lead notifications) and the ways to spoil them (wrong types, nulls, unknown
union members, huge strings, deep nesting, out-of-range times, lone surrogates, NUL, NaN/Infinity).

The settings profile is registered here, once: every run generates the same cases (derandomized,
no example database), with no deadline (the machine's load must not fail a test), and each test
says how many cases it gets through `budget(n)`.
"""

import copy
import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from connectors.linkedin.forms import locale_code

PROFILE = "leadsync-hostile"
settings.register_profile(
    PROFILE,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)

BUDGETS = {}  # test name -> max_examples, so the suite can show it meets its budget


def budget(examples):
    """The suite's profile with a fixed number of generated cases for one test."""
    profile = settings(settings.get_profile(PROFILE), max_examples=examples)

    def decorate(test):
        BUDGETS[f"{test.__module__}.{test.__name__}"] = examples
        return profile(test)

    return decorate


# --- hostile values -----------------------------------------------------------------------------

YEAR_10000_MS = 253_402_300_800_000  # the first millisecond a datetime cannot hold
BEFORE_YEAR_1_MS = -62_135_596_800_001

HOSTILE_WORDS = [
    "", " ", "\t\n", "null", "NaN", "true", "0", "-1", "1e309", "0x1F", "💥", "\u202eevil",
    "urn:li:", "urn:li:event:", "urn:li:leadGenForm:", "urn:li:leadGenForm:1", "urn:li:person:",
    "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:987,99999999999999999999)", "urn:li:leadGenFormQuestion:(",
    "urn:li:leadGenFormConsent:(x,)", "(", ")", "%s%n%x", "{{CAMPAIGN_ID}}", "%", "%Y%", "+", "+1", "+999 000",
    "\u0085", "\ufeff", "x" * 201, "é" * 300,
]
NOT_STORABLE_WORDS = ["\ud800", "x\udfff", "\udbff\udc00", "nul\x00inside", "\x00"]

HOSTILE_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, -1, 2**31, 2**63, -(2**63), 10**18, -(10**18), YEAR_10000_MS, BEFORE_YEAR_1_MS]),
    st.floats(allow_nan=False, allow_infinity=False),
)
# Not storable: NaN and the infinities (Python's json reads them; payloads.loads refuses them) and an
# integer too long for str() (Python's 4300-digit limit), built lazily since even its repr() fails.
UNWRITABLE_NUMBERS = st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf")]),
                               st.builds(lambda: 10**5000))


def _huge(char, size):
    return char * size


HUGE_TEXT = st.builds(_huge, st.sampled_from(["x", "é", "🎉", "\u0301", " "]), st.integers(1_000, 70_000))


def texts(*, storable=True):
    alphabet = st.characters(exclude_characters="\x00") if storable else st.characters(exclude_categories=())
    words = HOSTILE_WORDS + ([] if storable else NOT_STORABLE_WORDS)
    return st.one_of(st.text(alphabet, max_size=20), st.sampled_from(words), HUGE_TEXT)


def _nest(depth, kind, leaf):
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def scalars(*, storable=True):
    options = [st.none(), st.booleans(), HOSTILE_NUMBERS, texts(storable=storable)]
    if not storable:
        options.append(UNWRITABLE_NUMBERS)
    return st.one_of(*options)


def deep(*, storable=True):
    """Nesting a database could keep (well under MAX_DEPTH levels, even inside a lead) or, when not
    storable, far deeper."""
    depths = st.integers(2, 50) if storable else st.integers(65, 5_000)
    return st.builds(_nest, depths, st.sampled_from(["list", "dict"]), scalars(storable=True))


UNION_KEYS = ["dateQuestionAnswer", "com.linkedin.leadgenform.FileAnswer", "", "textQuestionAnswer",
              "multipleChoiceAnswer", "event", "organization", "sponsoredLeadMetadata", "x.y.", "."]


def _values(storable):
    leaf = scalars(storable=storable)
    keys = st.one_of(texts(storable=storable), st.sampled_from(UNION_KEYS))
    containers = st.recursive(
        leaf, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(keys, kids, max_size=3), max_leaves=6)
    union = st.builds(lambda k, v: {k: v}, st.sampled_from(UNION_KEYS), containers)
    return st.one_of(leaf, containers, union, deep(storable=storable))


_VALUES = {True: _values(True), False: _values(False)}  # built once: building a strategy is not free


def values(*, storable=True):
    """Any JSON-ish value: scalars, small containers, unknown unions, deep nesting; `storable`
    leaves out what no database keeps (NaN, lone surrogates, NUL, nesting past 64 levels)."""
    return _VALUES[storable]


# --- mutating a valid payload -------------------------------------------------------------------

def _slots(value, limit=400):
    """(container, key) of every value inside `value`, breadth first, at most `limit` of them."""
    slots, queue = [], [value]
    while queue and len(slots) < limit:
        item = queue.pop(0)
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in children:
            slots.append((item, key))
            queue.append(child)
    return slots


ACTIONS = st.sampled_from(["replace", "replace", "drop", "wrap", "second_member"])
UNION_KEY = st.sampled_from(UNION_KEYS)


@st.composite
def mutated(draw, base, *, storable=True, hot_keys=(), max_mutations=4):
    """`base` (a strategy of valid payloads) spoiled 0 to `max_mutations` times: a value replaced by
    a hostile one, a key dropped, a value wrapped in an unknown union, a union given a second member.
    `hot_keys` are top-level keys worth hitting more often than their share of the tree."""
    payload = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(0, max_mutations))):
        if hot_keys and isinstance(payload, dict) and draw(st.booleans()):
            container, key = payload, draw(st.sampled_from(hot_keys))
        else:
            slots = _slots(payload)
            if not slots:
                break
            container, key = slots[draw(st.integers(0, len(slots) - 1))]
        action = draw(ACTIONS)
        present = key in container if isinstance(container, dict) else True
        if action == "drop" and present:
            del container[key]
        elif action == "wrap" and present:
            container[key] = {draw(UNION_KEY): container[key]}
        elif action == "second_member" and present and isinstance(container[key], dict):
            container[key][draw(st.sampled_from(UNION_KEYS + ["extra"]))] = draw(values(storable=storable))
        else:
            container[key] = draw(values(storable=storable))
    return payload


# --- LinkedIn lead forms (the Lead Sync schema, seed 002; legacy shapes, seed 000) ---------------

PREDEFINED = ["FIRST_NAME", "LAST_NAME", "EMAIL", "WORK_EMAIL", "PHONE_NUMBER", "COMPANY_NAME", "JOB_TITLE",
              "COUNTRY", "ZIP_CODE", "JOB_FUNCTION", None]
LOCALES = [{"country": "US", "language": "en"}, {"language": "de"}, {"country": "FR", "language": "fr"}, None]
FORM_ID = "987"
LEGAL_INFO_ID = 321


# The valid payloads are built from a Random that hypothesis controls (`st.randoms`): a handful of
# draws per case instead of hundreds (a seeded Random: one draw), so the budget goes on the hostile
# part, which is drawn piece by piece and shrinks.

def _localized(rng, text, locale):
    code = locale_code(locale) or "en_US"
    return rng.choice([
        text,
        {"localized": {code: text}},
        {"localized": {"xx_XX": text}},
        {"localized": {"es_ES": "otro", "it_IT": text}, "preferredLocale": {"language": "it", "country": "IT"}},
    ])


NAME_WORDS = ["firstName", "Email", "Company name", "Interested in", "Ünïcødé", "名前", "x", "utm_source",
              "Job title", "ZIP", "Option A", "Option B"]


def make_form(rng, *, form_id=FORM_ID):
    """(leadForms element, questions_by_urn, legal_info): a versioned form with inline questions
    and legal info, or a legacy one that names them by URN (then resolved by the other two)."""
    locale = rng.choice(LOCALES)
    questions = []
    for question_id in rng.sample(range(1, 10**9), rng.randint(1, 5)):
        question = {"questionId": question_id, "name": rng.choice(NAME_WORDS),
                    "question": _localized(rng, rng.choice(NAME_WORDS), locale),
                    "predefinedField": rng.choice(PREDEFINED), "responseRequired": rng.random() < 0.5}
        if rng.random() < 0.5:
            length = rng.choice([None, 1, 50, 300, 2000])
            question["questionDetails"] = {"textQuestionDetails": {"maxResponseLength": length}}
        else:
            texts_ = rng.sample(NAME_WORDS, rng.randint(1, 4))
            question["questionDetails"] = {"multipleChoiceQuestionDetails": {"options": [
                {"id": i, "text": _localized(rng, text, locale)} for i, text in enumerate(texts_)]}}
        questions.append(question)
    consents = [{"id": i, "consent": _localized(rng, rng.choice(NAME_WORDS), locale),
                 "checkRequired": rng.random() < 0.5} for i in range(1, rng.randint(0, 2) + 1)]
    hidden = [{"name": name, "value": rng.choice(["linkedin", "{{CAMPAIGN_ID}}", "", None])}
              for name in rng.sample(NAME_WORDS, rng.randint(0, 3))]
    element = {
        "id": int(form_id) if form_id.isdigit() and rng.random() < 0.5 else form_id,
        "versionId": rng.randint(1, 5), "name": rng.choice(NAME_WORDS),
        "state": rng.choice(["PUBLISHED", "DRAFT", "ARCHIVED"]),
        "owner": rng.choice([{"organization": "urn:li:organization:1"},
                             {"sponsoredAccount": "urn:li:sponsoredAccount:5"}]),
        "creationLocale": locale, "hiddenFields": hidden,
        "content": {"headline": _localized(rng, "Join us", locale)},
    }
    legal = {"legalInfoId": LEGAL_INFO_ID, "consents": consents, "privacyPolicyUrl": "https://example.com/p"}
    if rng.random() < 0.5:  # versioned: everything inline
        element["content"].update(questions=questions, legalInfo=legal)
        return element, None, None
    by_urn = {f"urn:li:leadGenFormQuestion:{q['questionId']}": q for q in questions}
    element["content"].update(questions=list(by_urn), legalInfo=f"urn:li:leadGenFormLegalInfo:{LEGAL_INFO_ID}")
    return element, by_urn, legal


def lead_forms(*, form_id=FORM_ID):
    return st.builds(lambda rng: make_form(rng, form_id=form_id), st.randoms(use_true_random=True))


FORM_HOT_KEYS = ("id", "versionId", "content", "hiddenFields", "owner", "creationLocale", "name")


# --- lead responses (all three answer shapes, reference page "Lead forms and responses") ---------

LEAD_HOT_KEYS = ("id", "submittedAt", "formResponse", "versionedLeadGenFormUrn", "form", "owner",
                 "associatedEntity", "leadMetadata", "submitter", "testLead", "leadType")
TEXT_ANSWERS = ["Ada", "ada.lovelace@example.com", "+1 415 555 0132", "0044 20 7946 0958", "1686182358881",
                "yes", "", "  Ünïcødé  ", "名前"]


def _answer(rng, shape, question):
    qid = question["questionId"]
    details = question["questionDetails"]
    if "textQuestionDetails" in details:
        kind, body = "TextQuestionAnswer", {"answer": rng.choice(TEXT_ANSWERS)}
    else:
        count = len(details["multipleChoiceQuestionDetails"]["options"])
        kind, body = "MultipleChoiceAnswer", {"options": [rng.randint(0, count) for _ in range(rng.randint(0, count))]}
    if shape == "legacy":
        return {"question": f"urn:li:leadGenFormQuestion:{qid}",
                "answerDetails": {f"com.linkedin.leadgenform.{kind}": body}}
    union = {kind[:1].lower() + kind[1:]: body}
    if shape == "versioned":
        return {"questionId": qid, "answerDetails": union}
    return {"questionId": qid, "name": question["name"], "accepted": union}


def make_lead(rng, form, *, lead_id=None):
    """A leadFormResponses element answering `form` (as make_form gives it), in one of the three
    answer shapes."""
    element, by_urn, legal = form
    questions = list(by_urn.values()) if by_urn else element["content"]["questions"]
    consents = (legal or element["content"]["legalInfo"])["consents"]
    shape = rng.choice(["versioned", "seed", "legacy"])
    version = element["versionId"]
    lead = {
        "id": lead_id or f"{rng.getrandbits(128):032x}-{rng.randint(0, 9)}",
        "leadType": rng.choice(["EVENT", "SPONSORED", "COMPANY", "ORGANIZATION_PRODUCT"]),
        "owner": element["owner"],
        "submittedAt": rng.randint(0, YEAR_10000_MS - 1),
        "testLead": rng.random() < 0.5,
        "formResponse": {
            "answers": [_answer(rng, shape, q) for q in questions if rng.random() < 0.8],
            "consentResponses": [
                {"consentId": c["id"], "accepted": rng.random() < 0.5} if shape != "legacy" else
                {"consent": f"urn:li:leadGenFormConsent:(urn:li:leadGenFormLegalInfo:{LEGAL_INFO_ID},{c['id']})",
                 "accepted": rng.random() < 0.5}
                for c in consents],
        },
    }
    versioned = f"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:{element['id']},{version})"
    form_ref = rng.choice(["versioned_urn", "form_urn", "form_object", "plain_urn"])
    if form_ref == "versioned_urn":
        lead["versionedLeadGenFormUrn"] = versioned
    elif form_ref == "form_urn":
        lead["form"] = versioned
    elif form_ref == "plain_urn":
        lead["form"] = f"urn:li:leadGenForm:{element['id']}"
    else:
        lead["form"] = {"id": element["id"], "versionId": version, "hiddenFields": element["hiddenFields"]}
    if rng.random() < 0.5:
        lead["submitter"] = "urn:li:person:" + rng.choice(NAME_WORDS)
    if rng.random() < 0.5:
        lead["associatedEntity"] = rng.choice([{"event": "urn:li:event:789"},
                                               {"associatedCreative": "urn:li:sponsoredCreative:5"}, "urn:li:event:1"])
    if rng.random() < 0.5:
        metadata = {"campaign": "urn:li:sponsoredCampaign:367378525"}
        lead["leadMetadata"] = ({"com.linkedin.leadgenform.SponsoredLeadMetadata": metadata} if shape == "legacy"
                                else {"sponsoredLeadMetadata": metadata})
    return lead


def lead_elements(form, *, lead_id=None):
    return st.builds(lambda rng: make_lead(rng, form, lead_id=lead_id), st.randoms(use_true_random=True))


# --- lead notifications (webhooks; reference page "Lead notifications") ---------------------------

def make_notification(rng):
    return {
        "type": "LEAD_ACTION",
        "leadGenFormResponse": f"urn:li:leadGenFormResponse:{rng.getrandbits(128):032x}-{rng.randint(0, 9)}",
        "leadGenForm": rng.choice(["urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1001,1)",
                                   "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:1001, 2)",
                                   "urn:li:leadGenForm:1001"]),
        "owner": rng.choice([{"organization": "urn:li:organization:123"},
                             {"sponsoredAccount": "urn:li:sponsoredAccount:5"}]),
        "associatedEntity": {"event": "urn:li:event:789"},
        "leadType": rng.choice(["EVENT", "SPONSORED"]),
        "leadAction": rng.choice(["CREATED", "DELETED"]),
        "occurredAt": rng.randint(0, YEAR_10000_MS - 1),
    }


def notifications():
    return st.builds(make_notification, st.randoms(use_true_random=True))


NOTIFICATION_HOT_KEYS = ("type", "leadGenFormResponse", "leadGenForm", "owner", "leadType", "leadAction",
                         "occurredAt")


def _dump(payload, ensure_ascii, indent):
    try:
        text = json.dumps(payload, ensure_ascii=ensure_ascii, indent=indent)
    except (ValueError, RecursionError):  # a value json cannot write: send digits as a sender could
        text = '{"type": "LEAD_ACTION", "leadAction": "CREATED", "occurredAt": ' + "9" * 5_000 + "}"
    return text.encode("utf-8", "surrogatepass")


def _splice(body, at, junk):
    at = min(at, len(body))
    return body[:at] + junk + body[at:]


def _pad(payload, size):
    return json.dumps({**payload, "padding": "x" * size}).encode()


def bodies():
    """Raw webhook bodies: notifications (spoiled or not) as JSON, random bytes, invalid UTF-8
    spliced in, NaN and Infinity, far too deep nesting, bodies around the size limit."""
    spoiled = mutated(notifications(), storable=False, hot_keys=NOTIFICATION_HOT_KEYS, max_mutations=2)
    as_json = st.builds(_dump, spoiled, st.booleans(), st.sampled_from([None, 1]))
    junk = st.one_of(st.binary(min_size=1, max_size=8),
                     st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"NaN", b"-Infinity"]))
    return st.one_of(
        as_json,
        as_json,
        st.builds(_splice, as_json, st.integers(0, 400), junk),
        st.binary(max_size=300),
        st.builds(lambda d, o: o * d + b"1" + b"]" * d, st.integers(50, 50_000), st.just(b"[")),
        st.builds(_pad, notifications(), st.integers(60_000, 70_000)),
    )
