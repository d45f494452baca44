"""Fill the sandbox with a believable LinkedIn: the cast of seed_data plus a few hundred leads.

Deterministic and idempotent: lead i of seed S always draws from random.Random(f"S:i") and has the
same id, times are counted from an anchor saved on the first run, and every row is looked up by its
LinkedIn id before it is created, so a second run adds nothing (a larger --leads adds the difference).
"""

import random
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from sandbox import db as sandbox_db
from . import seed_data as data
from .generators import answers_for, lead_id, make_person, make_unique_person
from .models import (
    AccessToken, AdAccount, AdAccountUser, AuthorizationCode, Campaign, Event, Grant, Lead, LeadForm, LeadFormVersion,
    LeadNotification, LeadType, Member, Organization, OrganizationRole, RefreshToken, SandboxSettings,
    WebhookDelivery,
)
from .services import lead_submit
from .tokens import LEAD_SYNC_SCOPES, tokens_ensure

# Wiped in this order by --reset (children before the rows they protect).
SANDBOX_MODELS = [
    WebhookDelivery, LeadNotification, Lead, Event, LeadFormVersion, LeadForm, Campaign, AdAccountUser, AdAccount,
    OrganizationRole, Organization, AccessToken, RefreshToken, AuthorizationCode, Grant, Member, SandboxSettings,
]


@dataclass
class SeedResult:
    leads_total: int = 0
    leads_created: int = 0
    tokens: dict = field(default_factory=dict)
    member: Member | None = None

    def as_dict(self):
        return {
            "member": {"id": self.member.id, "person_id": self.member.person_id, "urn": self.member.urn,
                       "name": str(self.member)},
            "organizations": [
                {"id": o.id, "name": o.name,
                 "alex_roles": list(o.roles.filter(member=self.member).values_list("role", flat=True))}
                for o in Organization.objects.order_by("id")
            ],
            "ad_accounts": [
                {"id": a.id, "name": a.name, "status": a.status, "test": a.test}
                for a in AdAccount.objects.order_by("id")
            ],
            "campaigns": [c.id for c in Campaign.objects.order_by("id")],
            "events": [
                {"id": e.id, "name": e.name, "organizer": e.organizer_id, "lead_form": e.lead_form_id}
                for e in Event.objects.order_by("id")
            ],
            "forms": [
                {"id": f.id, "name": f.name, "lead_type": f.lead_type, "owner": f.owner, "state": f.state,
                 "versions": list(f.versions.values_list("version", flat=True))}
                for f in LeadForm.objects.order_by("id")
            ],
            "leads": {"total": self.leads_total, "created": self.leads_created,
                      "test": Lead.objects.filter(test_lead=True).count(),
                      "guest": Lead.objects.filter(submitter="").count()},
            "tokens": self.tokens,
        }


def reset():
    for model in SANDBOX_MODELS:
        model.objects.all().delete()


def _cast(anchor):
    members = {}
    for spec in data.MEMBERS:
        members[spec["person_id"]], _ = Member.objects.update_or_create(
            person_id=spec["person_id"], defaults={k: v for k, v in spec.items() if k != "person_id"}
        )
    for spec in data.ORGANIZATIONS:
        Organization.objects.update_or_create(id=spec["id"], defaults=spec)
    for person, org_id, role in data.ROLES:
        OrganizationRole.objects.get_or_create(
            member=members[person], organization_id=org_id, role=role,
            defaults={"state": OrganizationRole.State.APPROVED, "created": anchor - timedelta(days=400)},
        )
    for spec in data.AD_ACCOUNTS:
        AdAccount.objects.update_or_create(id=spec["id"], defaults=spec)
    for person, account_id, role in data.AD_ACCOUNT_USERS:
        AdAccountUser.objects.get_or_create(member=members[person], account_id=account_id, defaults={"role": role})
    for spec in data.CAMPAIGNS:
        Campaign.objects.update_or_create(id=spec["id"], defaults=spec)
    created = anchor - timedelta(days=200)
    for spec in data.FORMS:
        form, _ = LeadForm.objects.update_or_create(id=spec["id"], defaults={
            "name": spec["name"], "organization_id": spec.get("organization_id"),
            "ad_account_id": spec.get("ad_account_id"), "lead_type": spec["lead_type"],
            "state": spec.get("state", LeadForm.State.PUBLISHED), "locale": spec.get("locale", "en_US"),
            "created": created, "last_modified": created,
        })
        for number, content in enumerate(spec["versions"], start=1):
            since = anchor - timedelta(days=data.SUMMIT_V2_DAYS_AGO) if number > 1 else created
            LeadFormVersion.objects.update_or_create(form=form, version=number, defaults={**content, "created": since})
    for spec in data.EVENTS:
        starts = (anchor + timedelta(days=spec["starts_in_days"])).replace(minute=0, second=0, microsecond=0)
        Event.objects.update_or_create(id=spec["id"], defaults={
            "organizer_id": spec["organizer_id"], "name": spec["name"], "description": spec.get("description", ""),
            "locale": spec.get("locale", "en_US"), "starts_at": starts,
            "ends_at": starts + timedelta(hours=spec["hours"]),
            "lead_form_id": spec["lead_form_id"], "lead_form_urn_versioned": spec.get("lead_form_urn_versioned", False),
        })
    return members


def _scale(anchor, members, *, owners, forms):
    """`owners` extra owners for Alex (pages and ad accounts, alternating) holding `forms` published
    forms between them, round robin (seed_data's scale section); returns the forms."""
    created = anchor - timedelta(days=200)
    owner_rows = []
    for i in range(owners):
        if i % 2 == 0:
            org, _ = Organization.objects.update_or_create(id=data.SCALE_ORGANIZATION_ID + i, defaults={
                "name": f"Scale page {i}", "vanity_name": f"scale-page-{i}"})
            OrganizationRole.objects.get_or_create(
                member=members[data.ALEX], organization=org, role=OrganizationRole.Role.ADMINISTRATOR,
                defaults={"state": OrganizationRole.State.APPROVED, "created": anchor - timedelta(days=400)})
            owner_rows.append(({"organization_id": org.id}, LeadType.COMPANY))
        else:
            account, _ = AdAccount.objects.update_or_create(id=data.SCALE_AD_ACCOUNT_ID + i, defaults={
                "name": f"Scale ads {i}", "organization_id": data.ACME, "status": AdAccount.Status.ACTIVE})
            AdAccountUser.objects.get_or_create(member=members[data.ALEX], account=account,
                                                defaults={"role": AdAccountUser.Role.ACCOUNT_MANAGER})
            owner_rows.append(({"ad_account_id": account.id}, LeadType.SPONSORED))
    made = []
    for k in range(forms if owners else 0):
        owner, lead_type = owner_rows[k % owners]
        form, _ = LeadForm.objects.update_or_create(id=data.SCALE_FORM_ID + k, defaults={
            "name": f"Scale form {k}", "organization_id": None, "ad_account_id": None, **owner,
            "lead_type": lead_type, "state": LeadForm.State.PUBLISHED, "created": created, "last_modified": created})
        LeadFormVersion.objects.update_or_create(form=form, version=1, defaults={
            **data.scale_form_version(k), "created": created})
        made.append(form)
    return made


def _scale_leads(forms, per_form, days, seed, anchor):
    """`per_form` leads for each scale form, submitted between a day and `days` ago (so a pull of
    the last hours finds none of them); deterministic like _leads."""
    existing = set(Lead.objects.filter(form_version__form__in=forms).values_list("id", flat=True))
    created = 0
    for form in forms:
        version = form.versions.get(version=1)
        for j in range(per_form):
            rng = random.Random(f"{seed}:scale:{form.id}:{j}")
            new_id = lead_id(rng)
            if new_id in existing:
                continue
            person = make_person(rng)
            answers, consents = answers_for(version, person, rng)
            lead_submit(form, answers=answers, consents=consents, version=version,
                        submitted_at=anchor - timedelta(seconds=rng.uniform(86400, days * 86400)),
                        shape=_shape(rng, form.lead_type), submitter=f"urn:li:person:{person.person_id}", rng=rng,
                        notify=False, lead_id=new_id)
            created += 1
    return created


def _shape(rng, lead_type):
    if lead_type == LeadType.EVENT:
        return rng.choices([Lead.Shape.VERSIONED, Lead.Shape.SCHEMA, Lead.Shape.LEGACY], [45, 30, 25])[0]
    return rng.choices([Lead.Shape.VERSIONED, Lead.Shape.SCHEMA], [60, 40])[0]


def _leads(count, days, seed, anchor, unique_people=False):
    forms = {f.id: f for f in LeadForm.objects.filter(id__in=data.LEAD_WEIGHTS).prefetch_related("versions", "events")}
    form_ids = list(data.LEAD_WEIGHTS)
    weights = [data.LEAD_WEIGHTS[i] for i in form_ids]
    people_rng = random.Random(f"{seed}:people")
    people = [make_person(people_rng) for _ in range(max(10, count // 2))]
    existing = set(Lead.objects.values_list("id", flat=True))
    created = 0
    for i in range(count):
        rng = random.Random(f"{seed}:lead:{i}")
        new_id = lead_id(rng)
        form = forms[rng.choices(form_ids, weights)[0]]
        submitted_at = anchor - timedelta(seconds=rng.uniform(60, days * 86400))
        person = rng.choice(people)  # drawn in both modes, so the rest of the lead is the same
        if unique_people:
            person = make_unique_person(random.Random(f"{seed}:person:{i}"), i)
        guest, test = rng.random() < 0.08, rng.random() < 0.05
        if new_id in existing:
            continue
        versions = sorted(form.versions.all(), key=lambda v: v.version)
        version = [v for v in versions if v.created <= submitted_at][-1:] or versions[:1]
        answers, consents = answers_for(version[0], person, rng)
        lead_submit(
            form, answers=answers, consents=consents, version=version[0], test=test, guest=guest,
            submitted_at=submitted_at, shape=_shape(rng, form.lead_type), submitter=f"urn:li:person:{person.person_id}",
            rng=rng, notify=False, lead_id=new_id,
        )
        created += 1
    return created


@sandbox_db.atomic
def seed(*, leads=300, days=120, seed=42, reset_first=False, scopes=LEAD_SYNC_SCOPES, unique_people=False,
         owners=0, forms=0, form_leads=0):
    """Seed (or top up) the sandbox and ensure tokens for Alex Admin; returns a SeedResult.

    By default leads are drawn from a pool of about leads/2 people, so people submit more than once and
    share e-mail addresses. With `unique_people` every lead is its own person with e-mail addresses no
    other lead has (lead i's carry i); ids, forms, times and flags stay those of the default. Top-ups
    should use the mode of the first run, or the two kinds of people mix. With `owners` and `forms`,
    also that many extra owners and forms for Alex (the idle-poll benchmark's scale), with `form_leads`
    leads each.
    """
    if reset_first:
        reset()
    switches = SandboxSettings.load()
    if switches.seed_anchor is None:
        switches.seed_anchor = timezone.now().replace(microsecond=0)
        switches.save(update_fields=["seed_anchor"])
    anchor = switches.seed_anchor
    members = _cast(anchor)
    created = _leads(leads, days, seed, anchor, unique_people=unique_people)
    if owners and forms:
        created += _scale_leads(_scale(anchor, members, owners=owners, forms=forms), form_leads, days, seed, anchor)
    issued = tokens_ensure(member=members[data.ALEX], scopes=list(scopes))
    return SeedResult(
        leads_total=Lead.objects.count(), leads_created=created, tokens=issued.as_response(),
        member=members[data.ALEX],
    )
