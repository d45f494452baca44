"""The sandbox's cast: members, pages, ad accounts, events and forms, with LinkedIn-style ids.

Alex Admin is ADMINISTRATOR of two pages, LEAD_GEN_FORMS_MANAGER of one and only ANALYST of the
fourth (whose forms and leads must stay invisible to the product). Forms cover every kind of
question, hidden fields and consents; the summit form has two versions whose option texts differ.
"""

from .models import AdAccount, AdAccountUser, LeadForm, LeadType, OrganizationRole

ALEX = "AlexAdmin01"
ROBIN = "RobinRole02"

MEMBERS = [
    {"person_id": ALEX, "first_name": "Alex", "last_name": "Admin", "email": "alex.admin@acme.example"},
    {"person_id": ROBIN, "first_name": "Robin", "last_name": "Ångström", "email": "robin@initech.example",
     "locale": "sv_SE"},
]

ACME, ANGSTROM, GLOBEX, INITECH = 2414101, 2414102, 2414103, 2414104

ORGANIZATIONS = [
    {"id": ACME, "name": "Acme Conferences", "vanity_name": "acme-conferences", "website": "https://acme.example"},
    {"id": ANGSTROM, "name": "Ångström Labs AB", "vanity_name": "angstrom-labs",
     "website": "https://angstrom.example"},
    {"id": GLOBEX, "name": "Globex Marketing", "vanity_name": "globex-marketing", "website": "https://globex.example"},
    {"id": INITECH, "name": "Initech Analytics", "vanity_name": "initech", "website": "https://initech.example"},
]

Role = OrganizationRole.Role
ROLES = [
    (ALEX, ACME, Role.ADMINISTRATOR),
    (ALEX, ANGSTROM, Role.ADMINISTRATOR),
    (ALEX, GLOBEX, Role.LEAD_GEN_FORMS_MANAGER),
    (ALEX, INITECH, Role.ANALYST),
    (ROBIN, INITECH, Role.ADMINISTRATOR),
    (ROBIN, ACME, Role.ANALYST),
]

ACME_ADS, ACME_ADS_TEST, OLD_ADS, INITECH_ADS = 507857085, 507857086, 507857087, 507857088
AD_ACCOUNTS = [
    {"id": ACME_ADS, "name": "Acme Ads", "organization_id": ACME, "status": AdAccount.Status.ACTIVE},
    {"id": ACME_ADS_TEST, "name": "Acme Ads (test)", "organization_id": ACME, "status": AdAccount.Status.ACTIVE,
     "test": True},
    {"id": OLD_ADS, "name": "Acme Ads 2019", "organization_id": ACME, "status": AdAccount.Status.CANCELED},
    {"id": INITECH_ADS, "name": "Initech Ads", "organization_id": INITECH, "status": AdAccount.Status.ACTIVE},
]
AD_ACCOUNT_USERS = [
    (ALEX, ACME_ADS, AdAccountUser.Role.ACCOUNT_MANAGER),
    (ALEX, ACME_ADS_TEST, AdAccountUser.Role.VIEWER),
    (ALEX, OLD_ADS, AdAccountUser.Role.ACCOUNT_MANAGER),
    (ROBIN, INITECH_ADS, AdAccountUser.Role.ACCOUNT_BILLING_ADMIN),
]
CAMPAIGNS = [
    {"id": 367378525, "account_id": ACME_ADS, "name": "Spring Launch — Lead Gen", "creative_id": 100200300},
]


def mls(text, locale="en_US", **translations):
    """MultiLocaleString; extra translations as de_DE="…"."""
    return {"localized": {locale: text, **translations}}


def text_question(qid, name, label, predefined=None, *, required=True, max_length=300, locale="en_US", **tr):
    question = {
        "questionId": qid,
        "name": name,
        "question": mls(label, locale, **tr),
        "responseRequired": required,
        "responseEditable": True,
        "questionDetails": {"textQuestionDetails": {"maxResponseLength": max_length}},
    }
    if predefined:
        question["predefinedField"] = predefined
    if predefined == "WORK_EMAIL":
        question["questionSubmissionCriteria"] = {"workEmailSubmissionCriteria": {"freemiumEmailAllowed": False}}
    return question


def choice_question(qid, name, label, options, *, required=True, locale="en_US"):
    return {
        "questionId": qid,
        "name": name,
        "question": mls(label, locale),
        "responseRequired": required,
        "responseEditable": True,
        "label": name,
        "questionDetails": {"multipleChoiceQuestionDetails": {"options": [
            {"id": oid, "text": mls(text, locale), "label": f"{name}_{oid}"} for oid, text in options
        ]}},
    }


def legal_info(legal_id, consents, *, locale="en_US", url="https://acme.example/privacy"):
    return {
        "legalInfoId": legal_id,
        "privacyPolicyUrl": url,
        "legalDisclaimer": mls("By submitting, you agree to the privacy policy of the organizer.", locale),
        "consents": [
            {"id": cid, "consent": mls(text, locale), "checkRequired": required} for cid, text, required in consents
        ],
    }


def q(form_no, n):
    """Question ids are unique across the sandbox: 3072340FFNN."""
    return 307234000 + form_no * 100 + n


def _basic(no, *, email="EMAIL"):
    return [
        text_question(q(no, 1), "firstName", "First name", "FIRST_NAME"),
        text_question(q(no, 2), "lastName", "Last name", "LAST_NAME"),
        text_question(q(no, 3), "email", "Email address" if email == "EMAIL" else "Work email", email),
    ]


SUMMIT_TRACKS_V1 = [(1, "Cloud"), (2, "Data"), (3, "Security")]
SUMMIT_TRACKS_V2 = [(1, "Cloud & Edge"), (2, "Data & AI"), (3, "Security & Privacy"), (4, "Leadership")]
TOPICS = [(1, "Kubernetes"), (2, "Lakehouse"), (3, "Zero trust"), (4, "FinOps"), (5, "LLM ops")]
SUMMIT_CONSENTS = [
    (1, "I agree that Acme processes my data to manage my registration.", True),
    (2, "Send me news about future Acme events.", False),
]


def _summit(version):
    tracks = SUMMIT_TRACKS_V1 if version == 1 else SUMMIT_TRACKS_V2
    questions = _basic(1) + [
        text_question(q(1, 4), "company", "Company name", "COMPANY_NAME"),
        text_question(q(1, 5), "jobTitle", "Job title", "JOB_TITLE"),
        text_question(q(1, 6), "country", "Country/Region", "COUNTRY"),
        choice_question(q(1, 7), "track", "Which track will you attend?", tracks),
        choice_question(q(1, 8), "topics", "Topics of interest (pick any)", TOPICS, required=False),
        text_question(q(1, 9), "hopeToLearn", "What do you hope to learn?", required=False, max_length=500),
    ]
    if version == 2:
        questions.insert(6, text_question(q(1, 10), "phone", "Phone number", "PHONE_NUMBER", required=False))
    return {
        "headline": mls("Register for Acme Summit 2026"),
        "description": mls("Two days of talks on cloud, data and security. Free for members."),
        "questions": questions,
        "multi_select_question_ids": [q(1, 8)],
        "legal_info": legal_info(321001, SUMMIT_CONSENTS),
        "hidden_fields": [{"name": "utm_source", "value": "linkedin"}, {"name": "event_code", "value": "SUMMIT26"}],
        "post_submission_info": {
            "message": mls("Thanks! Your ticket is on its way."),
            "callToAction": {"callToActionLabel": "LEARN_MORE",
                             "callToActionTarget": {"landingPageUrl": "https://acme.example/summit"}},
        },
    }


def _simple(no, headline, extra, *, consents, legal_id, email="EMAIL", hidden=(), multi=(), locale="en_US"):
    return {
        "headline": mls(headline, locale),
        "description": None,
        "questions": _basic(no, email=email) + extra,
        "multi_select_question_ids": list(multi),
        "legal_info": legal_info(legal_id, consents, locale=locale),
        "hidden_fields": [{"name": n, "value": v} for n, v in hidden],
        "post_submission_info": None,
    }


DEFAULT_CONSENT = [(1, "I agree to be contacted by email about this request.", True)]

FORMS = [
    {
        "id": 6083001, "name": "Acme Summit 2026 – registration", "organization_id": ACME,
        "lead_type": LeadType.EVENT, "versions": [_summit(1), _summit(2)],
    },
    {
        "id": 6083002, "name": "Webinar: Data Pipelines at Scale", "organization_id": ACME,
        "lead_type": LeadType.EVENT,
        "versions": [_simple(2, "Save your seat", [
            text_question(q(2, 4), "company", "Company", "COMPANY_NAME"),
            choice_question(q(2, 5), "role", "Your role", [(1, "Engineer"), (2, "Manager"), (3, "Executive")]),
        ], consents=DEFAULT_CONSENT, legal_id=321002, hidden=[("webinar", "DPS-2026")])],
    },
    {
        "id": 6083003, "name": "Acme – Contact us", "organization_id": ACME, "lead_type": LeadType.COMPANY,
        "versions": [_simple(3, "Talk to Acme", [
            text_question(q(3, 4), "phone", "Phone number", "PHONE_NUMBER"),
            text_question(q(3, 5), "city", "City", "CITY"),
            text_question(q(3, 6), "state", "State/Province", "STATE", required=False),
            text_question(q(3, 7), "zip", "ZIP/Postal code", "ZIP_CODE", required=False),
            text_question(q(3, 8), "companySize", "Company size", "COMPANY_SIZE"),
            text_question(q(3, 9), "industry", "Industry", "INDUSTRY"),
            text_question(q(3, 10), "howCanWeHelp", "How can we help?", max_length=500),
        ], consents=DEFAULT_CONSENT + [(2, "Subscribe me to the Acme newsletter.", False)], legal_id=321003,
            email="WORK_EMAIL", hidden=[("source", "company-page")])],
    },
    {
        "id": 6083004, "name": "Ångström Spektrometer – Demo anfragen", "organization_id": ANGSTROM,
        "lead_type": LeadType.ORGANIZATION_PRODUCT, "locale": "de_DE",
        "versions": [{
            "headline": mls("Demo anfragen", "de_DE", en_US="Request a demo"),
            "description": mls("Wir melden uns innerhalb von zwei Werktagen.", "de_DE"),
            "questions": [
                text_question(q(4, 1), "firstName", "Vorname", "FIRST_NAME", locale="de_DE", en_US="First name"),
                text_question(q(4, 2), "lastName", "Nachname", "LAST_NAME", locale="de_DE", en_US="Last name"),
                text_question(q(4, 3), "email", "E-Mail", "EMAIL", locale="de_DE", en_US="Email"),
                text_question(q(4, 4), "company", "Unternehmen", "COMPANY_NAME", locale="de_DE"),
                text_question(q(4, 5), "seniority", "Karrierestufe", "SENIORITY", locale="de_DE"),
                text_question(q(4, 6), "jobFunction", "Funktion", "JOB_FUNCTION", locale="de_DE"),
                text_question(q(4, 7), "profile", "LinkedIn-Profil", "LINKEDIN_PROFILE_LINK", locale="de_DE",
                              required=False),
                choice_question(q(4, 8), "models", "Welche Modelle interessieren Sie?",
                                [(1, "Ångström S1"), (2, "Ångström S2 Pro"), (3, "Ångström Lab-Kit")],
                                locale="de_DE"),
            ],
            "multi_select_question_ids": [q(4, 8)],
            "legal_info": legal_info(321004, [(1, "Ich bin mit der Kontaktaufnahme einverstanden.", True)],
                                     locale="de_DE", url="https://angstrom.example/datenschutz"),
            "hidden_fields": [{"name": "product", "value": "spektrometer"}],
            "post_submission_info": None,
        }],
    },
    {
        "id": 6083005, "name": "Ångström Labs Meetup Malmö", "organization_id": ANGSTROM,
        "lead_type": LeadType.EVENT,
        "versions": [_simple(5, "Join us in Malmö", [
            text_question(q(5, 4), "city", "City", "CITY"),
            text_question(q(5, 5), "school", "School", "SCHOOL", required=False),
            text_question(q(5, 6), "degree", "Degree", "DEGREE", required=False),
            text_question(q(5, 7), "fieldOfStudy", "Field of study", "FIELD_OF_STUDY", required=False),
            text_question(q(5, 8), "graduation", "Graduation date", "GRADUATION_DATE", required=False),
        ], consents=[(1, "I agree to the meetup code of conduct.", True)], legal_id=321005)],
    },
    {
        "id": 6083006, "name": "Globex newsletter sign-up", "organization_id": GLOBEX, "lead_type": LeadType.COMPANY,
        "versions": [_simple(6, "Get the Globex newsletter", [
            text_question(q(6, 4), "jobTitle", "Job title", "JOB_TITLE"),
            text_question(q(6, 5), "country", "Country", "COUNTRY"),
            choice_question(q(6, 6), "frequency", "How often?", [(1, "Weekly"), (2, "Monthly")]),
        ], consents=[(1, "Send me the Globex newsletter.", True)], legal_id=321006)],
    },
    {
        "id": 6083007, "name": "Globex Product Day", "organization_id": GLOBEX, "lead_type": LeadType.EVENT,
        "versions": [_simple(7, "Product Day registration", [
            text_question(q(7, 4), "company", "Company", "COMPANY_NAME"),
            text_question(q(7, 5), "workPhone", "Work phone", "WORK_PHONE_NUMBER", required=False),
            text_question(q(7, 6), "gender", "Gender", "GENDER", required=False),
            text_question(q(7, 7), "started", "Start date", "START_DATE", required=False),
            choice_question(q(7, 8), "sessions", "Sessions", [(1, "Keynote"), (2, "Workshops"), (3, "Networking")]),
        ], consents=DEFAULT_CONSENT, legal_id=321007, email="WORK_EMAIL", multi=[q(7, 8)])],
    },
    {
        "id": 6083008, "name": "Initech Analyst Briefing", "organization_id": INITECH, "lead_type": LeadType.EVENT,
        "versions": [_simple(8, "Analyst briefing", [
            text_question(q(8, 4), "company", "Company", "COMPANY_NAME"),
        ], consents=DEFAULT_CONSENT, legal_id=321008)],
    },
    {
        "id": 6083009, "name": "Spring Launch – sponsored", "ad_account_id": ACME_ADS,
        "lead_type": LeadType.SPONSORED,
        "versions": [_simple(9, "Get the Spring Launch guide", [
            text_question(q(9, 4), "company", "Company name", "COMPANY_NAME"),
            text_question(q(9, 5), "jobTitle", "Job title", "JOB_TITLE"),
            text_question(q(9, 6), "workPhone", "Work phone", "WORK_PHONE_NUMBER", required=False),
            text_question(q(9, 7), "country", "Country", "COUNTRY"),
            choice_question(q(9, 8), "budget", "Budget", [(1, "< $10k"), (2, "$10k–$50k"), (3, "> $50k")]),
        ], consents=DEFAULT_CONSENT, legal_id=321009, email="WORK_EMAIL",
            hidden=[("campaign", "spring-launch"), ("utm_medium", "paid_social")])],
    },
    {
        "id": 6083010, "name": "Acme – draft (not published)", "organization_id": ACME, "lead_type": LeadType.COMPANY,
        "state": LeadForm.State.DRAFT,
        "versions": [_simple(10, "Draft", [], consents=DEFAULT_CONSENT, legal_id=321010)],
    },
]

# (days from the seed anchor to the start, hours long)
EVENTS = [
    {"id": 7100001, "organizer_id": ACME, "name": "Acme Summit 2026", "lead_form_id": 6083001,
     "starts_in_days": 30, "hours": 16, "description": "Two days of talks on cloud, data and security."},
    {"id": 7100002, "organizer_id": ACME, "name": "Webinar: Data Pipelines at Scale", "lead_form_id": 6083002,
     "starts_in_days": -20, "hours": 1, "lead_form_urn_versioned": True},
    {"id": 7100003, "organizer_id": ACME, "name": "Acme Office Hours", "lead_form_id": None,
     "starts_in_days": 7, "hours": 1},
    {"id": 7100004, "organizer_id": ANGSTROM, "name": "Ångström Labs Meetup Malmö", "lead_form_id": 6083005,
     "starts_in_days": 14, "hours": 3, "locale": "sv_SE"},
    {"id": 7100005, "organizer_id": GLOBEX, "name": "Globex Product Day", "lead_form_id": 6083007,
     "starts_in_days": 45, "hours": 8},
    {"id": 7100006, "organizer_id": INITECH, "name": "Initech Analyst Briefing", "lead_form_id": 6083008,
     "starts_in_days": 10, "hours": 2},
    {"id": 7100007, "organizer_id": GLOBEX, "name": "Globex Hiring Fair", "lead_form_id": None,
     "starts_in_days": 60, "hours": 6},
]

# Share of seeded leads per form (the draft form gets none).
LEAD_WEIGHTS = {
    6083001: 25, 6083002: 12, 6083003: 12, 6083004: 10, 6083005: 8, 6083006: 8, 6083007: 8, 6083008: 5, 6083009: 12,
}
# The summit form's second version went live this many days before the anchor.
SUMMIT_V2_DAYS_AGO = 30


# --- scale (sandbox_seed --owners N --forms M): many owners and forms for the idle-poll benchmark ------------
# Owner i (0-based) is a page Alex administers when i is even, an ad account he manages (of Acme) when odd;
# form k belongs to owner k % N. Ids are clear of the cast above (question ids stay unique: 3072340FFNN).
SCALE_ORGANIZATION_ID, SCALE_AD_ACCOUNT_ID, SCALE_FORM_ID = 2415000, 507858000, 6090000
SCALE_FORM_NO = 1000


def scale_form_version(k):
    no = SCALE_FORM_NO + k
    return _simple(no, f"Scale form {k}", [text_question(q(no, 4), "company", "Company", "COMPANY_NAME")],
                   consents=DEFAULT_CONSENT, legal_id=322000 + k)
