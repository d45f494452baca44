"""plan_push: what a push creates, updates and looks up, decided from what is known. Pure: no
database, no HTTP; each test states the facts and reads the plan."""

from datetime import datetime, timezone

from leads.pipeline.push import DUPLICATE_NOT_FOUND, PushItem, plan_push

SENT = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def item(name, email=None, uncertain=False, **facts):
    """`uncertain`: a create of it was sent and never answered."""
    return PushItem(lead=name, address=email or f"{name}@example.com", sent_at=SENT if uncertain else None, **facts)


def names(items):
    return [i.lead for i in items]


def updates(plan):
    return [(i.lead, crm_id) for i, crm_id in plan.update]


def test_new_leads_are_created_one_per_email():
    plan = plan_push([item("ada"), item("bob")], known={}, asked=set())
    assert names(plan.create) == ["ada", "bob"]
    assert not plan.update and not plan.look_up and not plan.fail


def test_a_repeat_submitter_is_created_once_and_its_later_submission_updates_that_lead():
    first, later = item("first", "ada@example.com"), item("later", " ADA@example.com")
    plan = plan_push([first, later], known={}, asked=set())
    assert names(plan.create) == ["first"], "only the oldest submission of an e-mail is created"
    assert not plan.update

    first.done = True  # the pusher created it and learned its CRM id
    plan = plan_push([first, later], known={"ada@example.com": "17"}, asked=set())
    assert updates(plan) == [("later", "17")] and not plan.create


def test_a_crm_id_leadsync_knows_for_the_email_is_updated_without_asking_the_crm():
    plan = plan_push([item("ada", uncertain=True)], known={"ada@example.com": "42"}, asked=set())
    assert updates(plan) == [("ada", "42")]
    assert not plan.look_up and not plan.create


def test_a_lead_with_its_own_crm_id_is_updated():
    plan = plan_push([item("ada", crm_id="7")], known={"ada@example.com": "42"}, asked=set())
    assert updates(plan) == [("ada", "7")], "the lead's own CRM id wins over another lead's"


def test_a_lead_tried_before_without_a_crm_id_is_looked_up_before_it_is_created():
    ada = item("ada", uncertain=True)
    plan = plan_push([ada], known={}, asked=set())
    assert names(plan.look_up) == ["ada"] and not plan.create

    assert updates(plan_push([ada], known={"ada@example.com": "9"}, asked={"ada@example.com"})) == [("ada", "9")]
    plan = plan_push([ada], known={}, asked={"ada@example.com"})
    assert names(plan.create) == ["ada"], "the CRM does not have it: now it is created"


def test_an_email_is_looked_up_once_however_many_of_its_submissions_are_uncertain():
    plan = plan_push([item("a1", "ada@example.com", uncertain=True), item("a2", "ada@example.com", uncertain=True)],
                     known={}, asked=set())
    assert names(plan.look_up) == ["a1"]


def test_a_duplicate_answer_301_is_looked_up_then_updated():
    ada = item("ada", duplicate=True)
    assert names(plan_push([ada], known={}, asked=set()).look_up) == ["ada"]
    assert updates(plan_push([ada], known={"ada@example.com": "5"}, asked={"ada@example.com"})) == [("ada", "5")]


def test_a_duplicate_the_crm_cannot_find_fails_with_a_reason_and_the_others_go_on():
    ada, bob = item("ada", duplicate=True), item("bob")
    plan = plan_push([ada, bob], known={}, asked={"ada@example.com"})
    assert [(i.lead, message) for i, message in plan.fail] == [("ada", DUPLICATE_NOT_FOUND)]
    assert names(plan.create) == ["bob"]


def test_a_lead_deleted_in_the_crm_404_is_created_again_without_a_lookup():
    ada = item("ada", uncertain=True, gone=True)
    plan = plan_push([ada], known={}, asked=set())
    assert names(plan.create) == ["ada"] and not plan.look_up


def test_done_leads_are_left_alone_and_an_empty_plan_ends_the_push():
    plan = plan_push([item("ada", done=True), item("bob", crm_id="1", done=True)], known={}, asked=set())
    assert not plan


def test_the_plan_depends_only_on_the_facts():
    facts = dict(known={"bob@example.com": "3"}, asked=set())
    items = [item("ada"), item("bob"), item("cy", uncertain=True)]
    first, second = plan_push(items, **facts), plan_push(items, **facts)
    assert (names(first.create), updates(first), names(first.look_up)) == (
        names(second.create), updates(second), names(second.look_up)) == (["ada"], [("bob", "3")], ["cy"])
