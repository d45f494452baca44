"""Model factories for the tests: plain functions with sensible defaults, one place."""

import itertools
from datetime import timedelta

from django.utils import timezone

from connectors.models import (
    CrmConnection,
    CrmField,
    LeadForm,
    LeadFormVersion,
    LinkedInConnection,
    LinkedInEvent,
    LinkedInOwner,
)
from leads.models import Lead, SyncRun
from mappings.models import FieldMapping, Integration

_seq = itertools.count(1)


def linkedin_connection(**kw):
    n = next(_seq)
    defaults = dict(
        name=f"member-{n}",
        member_name=f"Member {n}",
        member_urn=f"urn:li:person:m{n}",
        access_token=f"AQV-access-{n}-secretvalue",
        refresh_token=f"AQW-refresh-{n}-secretvalue",
        access_token_expires_at=timezone.now() + timedelta(days=60),
        refresh_token_expires_at=timezone.now() + timedelta(days=365),
        scopes=["r_marketing_leadgen_automation", "r_organization_admin", "r_ads", "r_events"],
    )
    return LinkedInConnection.objects.create(**{**defaults, **kw})


def crm_connection(**kw):
    n = next(_seq)
    defaults = dict(
        name=f"crm-{n}", api_url="http://127.0.0.1:9/pubapi/v1.2/", account_id=f"ACC{n}", secret_key=f"SECRET{n}xyz"
    )
    return CrmConnection.objects.create(**{**defaults, **kw})


def crm_field(connection, **kw):
    n = next(_seq)
    defaults = dict(system_name=f"custom_{n}", label=f"Custom {n}", data_type="text", is_custom=True)
    return CrmField.objects.create(connection=connection, **{**defaults, **kw})


def owner(connection=None, **kw):
    n = next(_seq)
    defaults = dict(urn=f"urn:li:organization:{n}", kind=LinkedInOwner.Kind.ORGANIZATION, name=f"Org {n}", role="ADMINISTRATOR")
    return LinkedInOwner.objects.create(connection=connection or linkedin_connection(), **{**defaults, **kw})


def event(owner_=None, **kw):
    n = next(_seq)
    defaults = dict(urn=f"urn:li:event:{n}", name=f"Event {n}", starts_at=timezone.now() + timedelta(days=10))
    return LinkedInEvent.objects.create(owner=owner_ or owner(), **{**defaults, **kw})


def lead_form(owner_=None, **kw):
    n = next(_seq)
    defaults = dict(linkedin_id=str(1000 + n), name=f"Form {n}", state="PUBLISHED", lead_types=["EVENT"], current_version=1)
    form = LeadForm.objects.create(owner=owner_ or owner(), **{**defaults, **kw})
    LeadFormVersion.objects.create(
        form=form,
        version=form.current_version or 1,
        definition={
            "form_id": form.linkedin_id,
            "version": form.current_version or 1,
            "name": form.name,
            "questions": [
                {"id": "1", "name": "firstName", "text": "First name", "predefined_field": "FIRST_NAME",
                 "type": "text", "required": True, "max_length": 300, "options": [], "label": None},
                {"id": "2", "name": "email", "text": "Email", "predefined_field": "EMAIL",
                 "type": "text", "required": True, "max_length": 300, "options": [], "label": None},
            ],
            "hidden_fields": [],
            "consents": [],
        },
    )
    return form


def integration(form=None, crm=None, **kw):
    return Integration.objects.create(form=form or lead_form(), crm_connection=crm or crm_connection(), **kw)


def field_mapping(integration_, **kw):
    n = next(_seq)
    defaults = dict(source_kind="question", source_key=str(n), source_label=f"Question {n}", crm_field="firstName")
    return FieldMapping.objects.create(integration=integration_, **{**defaults, **kw})


def lead(integration_=None, **kw):
    n = next(_seq)
    defaults = dict(
        linkedin_id=f"lead-{n}",
        submitted_at=timezone.now() - timedelta(hours=n),
        lead_type="EVENT",
        email=f"lead{n}@example.com",
        raw={"id": f"lead-{n}"},
        answers={},
    )
    return Lead.objects.create(integration=integration_ or integration(), **{**defaults, **kw})


def sync_run(integration_=None, **kw):
    return SyncRun.objects.create(integration=integration_ or integration(), **kw)
