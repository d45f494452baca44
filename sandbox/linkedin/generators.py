"""Plausible people and answers, reproducible from a `random.Random`.

Names are deliberately international (accents, CJK, Polish diacritics) so CRM pushes and CSV exports
meet real-world text; e-mail addresses use ASCII transliterations.
"""

import string
import unicodedata
import uuid
from dataclasses import dataclass, replace

# (first name, last name, ascii first, ascii last)
FIRST_NAMES = [
    ("Zoë", "zoe"), ("Łukasz", "lukasz"), ("小龙", "xiaolong"), ("José", "jose"), ("Søren", "soren"),
    ("Amélie", "amelie"), ("Björn", "bjorn"), ("Ngozi", "ngozi"), ("Priya", "priya"), ("Mateo", "mateo"),
    ("Aiko", "aiko"), ("Émile", "emile"), ("Fatima", "fatima"), ("Olga", "olga"), ("Chloé", "chloe"),
    ("Kwame", "kwame"), ("Ingrid", "ingrid"), ("Dmitri", "dmitri"), ("Siobhán", "siobhan"), ("Hana", "hana"),
    ("Rafael", "rafael"), ("Grace", "grace"), ("Tomás", "tomas"), ("Yuki", "yuki"), ("Maria", "maria"),
    ("John", "john"), ("Ana", "ana"), ("Jürgen", "jurgen"), ("Nuno", "nuno"), ("Leïla", "leila"),
]
LAST_NAMES = [
    ("Ångström", "angstrom"), ("Żółć", "zolc"), ("李", "li"), ("Álvarez", "alvarez"),
    ("Kierkegaard", "kierkegaard"),
    ("Dubois", "dubois"), ("Müller", "muller"), ("Okafor", "okafor"), ("Sharma", "sharma"), ("García", "garcia"),
    ("Tanaka", "tanaka"), ("Lefèvre", "lefevre"), ("Haddad", "haddad"), ("Ivanova", "ivanova"), ("Nguyễn", "nguyen"),
    ("Mensah", "mensah"), ("Johansson", "johansson"), ("O'Brien", "obrien"), ("Kowalski", "kowalski"),
    ("Smith", "smith"), ("Søndergaard", "sondergaard"), ("Papadopoulos", "papadopoulos"), ("da Silva", "dasilva"),
]
COMPANIES = [
    ("Acme Corp", "acme.example"), ("Globex", "globex.example"), ("Initech", "initech.example"),
    ("Umbrella Ltd", "umbrella.example"), ("Ångström Labs AB", "angstrom.example"), ("Żabka Tech", "zabka.example"),
    ("北京数据科技", "bjdata.example"), ("Soylent GmbH", "soylent.example"), ("Hooli", "hooli.example"),
    ("Stark Industries", "stark.example"), ("Wayne Enterprises", "wayne.example"),
    ("Müller & Söhne KG", "mueller.example"),
]
CITIES = [
    ("Berlin", "DE", "Berlin", "10115"), ("Kraków", "PL", "Małopolskie", "30-001"),
    ("São Paulo", "BR", "SP", "01000-000"),
    ("Malmö", "SE", "Skåne", "211 20"), ("Austin", "US", "TX", "78701"), ("Dublin", "IE", "Leinster", "D02"),
    ("上海", "CN", "Shanghai", "200000"), ("Lagos", "NG", "Lagos", "100001"), ("Montréal", "CA", "QC", "H2X"),
    ("Tokyo", "JP", "Tokyo", "100-0001"), ("Paris", "FR", "Île-de-France", "75001"), ("Seattle", "US", "WA", "98101"),
]
JOB_TITLES = [
    "Marketing Manager", "Head of Demand Generation", "Data Engineer", "VP Sales", "Event Coordinator",
    "CTO", "Directrice Marketing", "Leiter Vertrieb", "Software Developer", "Customer Success Lead",
]
JOB_FUNCTIONS = ["Marketing", "Sales", "Engineering", "Operations", "Finance", "Human Resources"]
SENIORITIES = ["Entry", "Senior", "Manager", "Director", "VP", "CXO", "Owner"]
COMPANY_SIZES = ["1-10", "11-50", "51-200", "201-500", "501-1000", "1001-5000", "10001+"]
INDUSTRIES = ["Software Development", "Financial Services", "Manufacturing", "Higher Education", "Retail"]
SCHOOLS = ["Uniwersytet Jagielloński", "KTH Royal Institute of Technology", "MIT", "Université de Montréal"]
DEGREES = ["Bachelor's degree", "Master's degree", "PhD", "MBA"]
FIELDS_OF_STUDY = ["Computer Science", "Marketing", "Physics", "Economics"]
FREE_TEXT = [
    "Looking forward to the talks on data pipelines.",
    "Bitte kontaktieren Sie mich per E-Mail.",
    "Nous cherchons une solution pour 200 utilisateurs.",
    "Can you share the slides afterwards?",
    "Interested in a demo for our team in Kraków — dziękuję!",
    "我们想了解更多产品信息。",
    "Need pricing for EMEA, ideally before Q3.",
]


@dataclass(frozen=True)
class Person:
    person_id: str
    first_name: str
    last_name: str
    email: str
    work_email: str
    phone: str
    company: str
    job_title: str
    city: tuple


def ascii_fold(text):
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def person_id(rng):
    alphabet = string.ascii_letters + string.digits + "_-"
    return "".join(rng.choice(alphabet) for _ in range(10))


def lead_id(rng):
    """A response id shaped like LinkedIn's: a UUID and a colo suffix."""
    return f"{uuid.UUID(int=rng.getrandbits(128), version=4)}-5"


def tracking_id(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex[:16]


def make_person(rng):
    first, first_ascii = rng.choice(FIRST_NAMES)
    last, last_ascii = rng.choice(LAST_NAMES)
    company, domain = rng.choice(COMPANIES)
    local = f"{first_ascii}.{last_ascii}"
    return Person(
        person_id=person_id(rng),
        first_name=first,
        last_name=last,
        email=f"{local}{rng.randint(1, 99)}@{rng.choice(['gmail.example', 'outlook.example', 'proton.example'])}",
        work_email=f"{local}@{domain}",
        phone=f"+{rng.choice(['1', '44', '48', '49', '46', '33'])} {rng.randint(200, 999)} {rng.randint(100, 999)} "
        f"{rng.randint(1000, 9999)}",
        company=company,
        job_title=rng.choice(JOB_TITLES),
        city=rng.choice(CITIES),
    )


def make_unique_person(rng, number):
    """A person whose e-mail addresses (private and work) carry `number`, so people made with distinct
    numbers never share one."""
    person = make_person(rng)
    local = person.work_email.partition("@")[0]
    return replace(
        person,
        email=f"{local}.{number}@{person.email.partition('@')[2]}",
        work_email=f"{local}.{number}@{person.work_email.partition('@')[2]}",
    )


def predefined_answer(field, person, rng):
    city, country, state, zip_code = person.city
    values = {
        "FIRST_NAME": person.first_name,
        "LAST_NAME": person.last_name,
        "EMAIL": person.email,
        "WORK_EMAIL": person.work_email,
        "PHONE_NUMBER": person.phone,
        "WORK_PHONE_NUMBER": person.phone,
        "CITY": city,
        "STATE": state,
        "COUNTRY": country,
        "ZIP_CODE": zip_code,
        "JOB_TITLE": person.job_title,
        "JOB_FUNCTION": rng.choice(JOB_FUNCTIONS),
        "SENIORITY": rng.choice(SENIORITIES),
        "COMPANY_NAME": person.company,
        "COMPANY_SIZE": rng.choice(COMPANY_SIZES),
        "INDUSTRY": rng.choice(INDUSTRIES),
        "DEGREE": rng.choice(DEGREES),
        "FIELD_OF_STUDY": rng.choice(FIELDS_OF_STUDY),
        "SCHOOL": rng.choice(SCHOOLS),
        "START_DATE": f"{rng.randint(2005, 2020)}-09",
        "GRADUATION_DATE": f"{rng.randint(2009, 2024)}-06",
        "GENDER": rng.choice(["Female", "Male", "Non-binary"]),
        "LINKEDIN_PROFILE_LINK": f"https://www.linkedin.com/in/{ascii_fold(person.first_name).lower() or 'member'}-"
        f"{person.person_id.lower()}",
    }
    return values.get(field, "")


def answers_for(version, person, rng):
    """Answers to every question of a form version (optional ones skipped now and then) and consent
    responses (required ones accepted). Multiple-choice answers are option ids."""
    answers = []
    multi = set(version.multi_select_question_ids or [])
    for question in version.questions:
        qid = question["questionId"]
        if not question.get("responseRequired", True) and rng.random() < 0.25:
            continue
        details = question.get("questionDetails", {})
        if "multipleChoiceQuestionDetails" in details:
            ids = [o["id"] for o in details["multipleChoiceQuestionDetails"]["options"]]
            picked = rng.sample(ids, rng.randint(1, min(3, len(ids)))) if qid in multi else [rng.choice(ids)]
            answers.append({"questionId": qid, "options": sorted(picked)})
            continue
        field = question.get("predefinedField")
        text = predefined_answer(field, person, rng) if field else rng.choice(FREE_TEXT)
        limit = details.get("textQuestionDetails", {}).get("maxResponseLength")
        answers.append({"questionId": qid, "text": text[:limit] if limit else text})
    consents = [
        {"consentId": c["id"], "accepted": True if c.get("checkRequired") else rng.random() < 0.6}
        for c in version.legal_info.get("consents", [])
    ]
    return answers, consents
