"""Reading lead pages ahead in a thread (connectors.ahead, LinkedInClient.lead_form_responses(ahead=…)):
the same pages in the same order, a token refresh run in the caller's thread, errors raised where the
caller reached, memory bounded by a few pages, and nothing fetched once the caller stopped."""

import threading

import pytest

from connectors.ahead import pages_ahead
from connectors.exceptions import ServerError
from connectors.linkedin.client import LinkedInClient
from tests.connectors.test_linkedin_client import (
    ACCOUNT, API, EXPIRED, NEW_TOKEN, ORG, RESPONSES_URL, TOKEN, client, leads, mock, page, query_of, retry,
    sleeps,
)

__all__ = ["client", "mock", "retry", "sleeps"]  # fixtures


def test_pages_read_ahead_are_the_pages_read_one_at_a_time(client, mock):
    for start, prefix in [(0, "a"), (10, "b"), (20, "c"), (30, "d")]:
        mock.get(RESPONSES_URL, json=page(leads(10 if prefix != "d" else 3, prefix), start=start, total=33))

    pages = list(client.lead_form_responses(ORG, "EVENT", ahead=2))

    assert [p[0]["id"] for p in pages] == ["a-0", "b-0", "c-0", "d-0"] and [len(p) for p in pages] == [10, 10, 10, 3]
    assert [query_of(c).rsplit("&", 1)[1] for c in mock.calls] == ["start=0", "start=10", "start=20", "start=30"]


def test_a_refresh_needed_by_a_page_read_ahead_runs_in_the_callers_thread(retry, mock):
    """The refresh writes the connection's row: it must run with the caller's database connection."""
    threads = []

    def refresh(failed):
        threads.append(threading.current_thread())
        return NEW_TOKEN

    client = LinkedInClient(API, access_token=TOKEN, refresh=refresh, retry=retry, page_size=10)
    mock.get(RESPONSES_URL, json=page(leads(10, "a"), start=0, total=20))
    mock.get(RESPONSES_URL, status=401, json=EXPIRED)
    mock.get(RESPONSES_URL, json=page(leads(10, "b"), start=10, total=20))

    pages = list(client.lead_form_responses(ACCOUNT, "SPONSORED", ahead=2))

    assert [p[0]["id"] for p in pages] == ["a-0", "b-0"]
    assert threads == [threading.current_thread()]
    assert client.access_token == NEW_TOKEN
    assert [c.request.headers["Authorization"] for c in mock.calls] == [f"Bearer {TOKEN}"] * 2 + [f"Bearer {NEW_TOKEN}"]
    assert getattr(client, "_in_caller", None) is None, "the hand-back ends with the pages"


def test_an_error_of_a_page_read_ahead_is_raised_after_the_pages_before_it(client, mock):
    mock.get(RESPONSES_URL, json=page(leads(10, "a"), start=0, total=30))
    mock.get(RESPONSES_URL, status=503, json={"message": "down"})  # answered to every retry

    pages = client.lead_form_responses(ORG, "EVENT", ahead=2)
    assert next(pages)[0]["id"] == "a-0"
    with pytest.raises(ServerError):
        next(pages)


def test_a_caller_that_stops_stops_the_reading_and_waits_for_it():
    fetched = []

    def slow_pages():
        for number in range(100):
            fetched.append(number)
            yield [number]

    pages = pages_ahead(slow_pages(), depth=2)
    assert next(pages) == [0]
    pages.close()

    assert not any(t.name == "leadsync-pages-ahead" and t.is_alive() for t in threading.enumerate())
    assert len(fetched) <= 1 + 2 + 1, "at most the pages waiting and the one being fetched"


def test_the_pages_waiting_are_bounded_by_the_depth():
    fetched = []

    def pages():
        for number in range(50):
            fetched.append(number)
            yield [number]

    seen_ahead = []
    for item in pages_ahead(pages(), depth=3):
        seen_ahead.append(len(fetched) - (item[0] + 1))
    assert max(seen_ahead) <= 3 + 1
    assert len(fetched) == 50


def test_a_call_handed_back_raises_in_the_fetching_thread_what_it_raised_in_the_caller():
    holder = {}

    def pages():
        yield [1]
        try:
            holder["run"](lambda: 1 / 0)
        except ZeroDivisionError:
            yield ["raised there"]

    got = list(pages_ahead(pages(), depth=1, in_caller=lambda run: holder.__setitem__("run", run)))
    assert got == [[1], ["raised there"]]
