"""`leadsync person erase EMAIL --crm` against the sandbox CRM: the person's CRM record goes too, and
the request is audited without the person."""

import pytest

from leads.models import Lead, PersonRequest
from sandbox.crm.models import CrmLead

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_erasing_a_person_with_crm_deletes_their_crm_record_and_nothing_else(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0
    lead = Lead.objects.filter(state="synced").exclude(crm_id="").first()
    others = CrmLead.objects.count() - 1
    email = lead.email

    result = cli("person", "erase", lead.email, "--crm", "--json")

    assert result.code == 0, result.out + result.err
    assert not CrmLead.objects.filter(email_lower=lead.email.lower()).exists()
    assert CrmLead.objects.count() == others
    lead.refresh_from_db()
    assert lead.state == "deleted" and lead.email == ""
    assert cli("sync", "--days", "90", "--json").json["runs"][0]["new"] == 0, "an erased lead is never pulled again"
    row = PersonRequest.objects.get()
    assert (row.kind, row.via, row.crm_requested, row.crm_deleted, row.crm_failed) == ("erase", "cli", True, 1, 0)
    fields = " ".join(str(f.value_from_object(row)) for f in row._meta.concrete_fields).lower()
    assert email.lower() not in fields and lead.linkedin_id not in fields
