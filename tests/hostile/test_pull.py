"""The pull's storing of a page (leads_store) on generated pages mixing good leads with spoiled
ones: a bad lead is counted and skipped, every other lead of the page is stored, nothing raises
(LGF-110). Pages hold only what connectors.payloads.loads lets through: that is what a page is."""

import pytest
from django.db import transaction
from hypothesis import event, given
from hypothesis import strategies as st

from connectors.exceptions import BadPayload
from connectors.linkedin.forms import parse_lead_form
from connectors.linkedin.responses import normalize_response
from leads.models import Lead
from leads.pipeline.pull import leads_store
from tests import factories
from tests.hostile import strategies as hs

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


# What surely makes a lead unreadable as a whole: no usable id, time or response.
FATAL = [{"submittedAt": hs.YEAR_10000_MS}, {"submittedAt": hs.BEFORE_YEAR_1_MS}, {"submittedAt": -(10**18)},
         {"submittedAt": "yesterday"}, {"submittedAt": None}, {"id": ""}, {"id": "x" * 201}, {"id": None},
         {"id": {"urn": "urn:li:leadGenFormResponse:1"}}, {"formResponse": "answers"}, {"formResponse": None}]


@st.composite
def pages(draw):
    form = draw(hs.lead_forms())
    definition = parse_lead_form(form[0], questions_by_urn=form[1], legal_info=form[2])
    good = draw(st.lists(hs.lead_elements(form), min_size=1, max_size=5))
    hostile = draw(st.lists(hs.mutated(hs.lead_elements(form), hot_keys=hs.LEAD_HOT_KEYS), min_size=1, max_size=4))
    fatal = {**draw(hs.lead_elements(form)), **draw(st.sampled_from(FATAL))}
    page = good + hostile + [fatal]
    order = draw(st.permutations(range(len(page))))
    return definition, [page[i] for i in order]


@hs.budget(100)
@given(case=pages())
def test_a_page_with_hostile_leads_stores_every_other_lead_and_counts_the_bad_ones(case):
    definition, page = case

    def versions(form_id, version):
        return definition if form_id == definition["form_id"] else None

    expected, bad = set(), 0
    for element in page:
        try:
            expected.add(normalize_response(element, versions)["id"])
        except BadPayload:
            bad += 1
    event(f"{bad} bad lead(s) of {len(page)}")
    with transaction.atomic():  # each page starts from an empty table
        integration = factories.integration(form=factories.lead_form(linkedin_id=definition["form_id"]))
        stored, malformed = leads_store(elements=page, versions=versions, route=lambda lead: integration,
                                        where="hostile page")
        kept = set(Lead.objects.values_list("linkedin_id", flat=True))
        transaction.set_rollback(True)
    assert malformed == bad >= 1
    assert kept == expected, "every lead that parses is stored, whatever its neighbours"
    if expected:
        assert stored[integration].new == len(expected)
