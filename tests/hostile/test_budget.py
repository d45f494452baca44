"""The suite's budget (issue 9): at least 10,000 generated cases per run, across the answer parser,
the form parser, the mapping engine, the webhook and the pull's storing."""

from tests.hostile import strategies as hs
from tests.hostile import test_mapping, test_parsers, test_pull, test_webhook  # noqa: F401 - they set BUDGETS


def test_every_run_generates_at_least_ten_thousand_cases():
    assert sum(hs.BUDGETS.values()) >= 10_000, hs.BUDGETS
    covered = {name.split(".")[2] for name in hs.BUDGETS}
    assert covered == {"test_parsers", "test_mapping", "test_webhook", "test_pull"}
