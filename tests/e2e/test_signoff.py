"""The sign-off report after a real sync against the sandbox over HTTP: discovery, enable and a
90-day pull leave LGF-101 … LGF-107 demonstrated, with evidence taken from what happened."""

import pytest

from leads.ops.signoff.checks import signoff_report

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.postgres]


def test_a_90_day_sync_passes_the_core_lines_with_their_evidence(cli, event_integration):
    assert cli("sync", "--days", "90").code == 0

    report = signoff_report()
    lines = {line["id"]: line for line in report["lines"]}
    core = ["LGF-101", "LGF-102", "LGF-103", "LGF-104", "LGF-105", "LGF-106", "LGF-107"]
    assert {i: lines[i]["status"] for i in core} == dict.fromkeys(core, "pass"), {i: lines[i]["evidence"] for i in core}

    form_id = event_integration.form.linkedin_id
    assert f"form {form_id}" in "\n".join(lines["LGF-104"]["evidence"])
    assert "(90 days)" in "\n".join(lines["LGF-107"]["evidence"])
    synced_event_lead = event_integration.leads.filter(lead_type="EVENT", state="synced").exclude(crm_id="")
    assert any(lead.crm_id in "\n".join(lines["LGF-106"]["evidence"]) for lead in synced_event_lead)
    assert report["summary"]["fail"] == 0
