"""On-call wordings of comparisons and request lists, end to end on the generated sample.

Each list's expected request ids and each comparison's two values are computed here from the generated rows
(tests/conftest.py), not taken from a run of the code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from tests.conftest import MAIN_ORG, NOW

DAY = timedelta(days=1)
TODAY = NOW.replace(hour=0, minute=0, second=0, microsecond=0)  # NOW is in UTC, the zone these questions use


def _ask(store, question: str) -> dict:
    return Conversation(store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW).ask(question).to_json()


def _at(row: dict) -> datetime:
    return datetime.fromisoformat(row["request_created_at"]).astimezone(UTC)


def _mine(rows: list[dict], start: datetime, end: datetime, keep=lambda r: True) -> list[dict]:
    return [r for r in rows if r["organization_id"] == MAIN_ORG and start <= _at(r) < end and keep(r)]


def _top(rows: list[dict], key, n: int) -> list[str]:
    """Largest first by `key`, ties by request_id ascending (rows without the value last)."""
    present = [r for r in rows if key(r) is not None]
    return [r["request_id"] for r in sorted(present, key=lambda r: (-key(r), r["request_id"]))][:n]


@pytest.mark.parametrize(
    ("question", "start", "keep", "key", "n"),
    [
        # a count right after the verb
        ("show me 50 failed requests in the last 7 days", NOW - 7 * DAY, lambda r: r["status"] >= 400, _at, 50),
        ("list 5 requests that took longer than 5 seconds today", TODAY, lambda r: r["latency"] > 5_000, _at, 5),
        (
            "show me 5 429s from anthropic in the last 4 days",
            NOW - 4 * DAY,
            lambda r: r["status"] == 429 and r["provider"] == "ANTHROPIC",
            _at,
            5,
        ),
        # "requests by <measure>" is the list's order, not a grouping
        ("5 largest requests by tokens today", TODAY, lambda r: True, lambda r: r["total_tokens"], 5),
        ("top 10 requests by cost today", TODAY, lambda r: True, lambda r: r["cost"], 10),
        (
            "show me the 3 gpt-4 requests by latency today",
            TODAY,
            lambda r: r["model"] == "gpt-4",
            lambda r: r["latency"],
            3,
        ),
    ],
)
def test_list_wordings(sample_store, sample_rows, question, start, keep, key, n):
    answer = _ask(sample_store, question)
    assert answer["status"] == "ok" and answer["kind"] == "list", answer["message"]
    want = _top(_mine(sample_rows, start, NOW, keep), lambda r: key(r).timestamp() if key is _at else key(r), n)
    assert len(want) == n  # the sample holds enough such requests for the order to matter
    assert [r["request_id"] for r in answer["data"]] == want


def test_vs_last_without_a_range_is_asked_back(sample_store):
    assert _ask(sample_store, "errors vs last")["status"] == "clarify"


def test_a_count_that_may_be_a_status_is_not_read_as_a_count(sample_store):
    answer = _ask(sample_store, "show me 500 requests")  # 500 requests, or requests with status 500?
    assert not (answer["status"] == "ok" and answer["kind"] == "list" and answer["request"]["limit"] == 100)
    assert _ask(sample_store, "show me 150 requests")["status"] == "clarify"  # more than a list holds


@pytest.mark.parametrize(
    ("question", "measure", "shift", "keep"),
    [
        ("is gpt-4 slower than last week?", "latency", 7 * DAY, lambda r: r["model"] == "gpt-4"),
        ("are we busier than last week", "requests", 7 * DAY, lambda r: True),
        ("gpt-4o tokens yesterday vs day before", "total_tokens", DAY, lambda r: r["model"] == "gpt-4o"),
        ("how did cost change vs last week", "cost", 7 * DAY, lambda r: True),
        ("cost in the last 3 days vs the 3 days before", "cost", 3 * DAY, lambda r: True),
        ("requests this week vs last", "requests", 7 * DAY, lambda r: True),
    ],
)
def test_compare_wordings(sample_store, sample_rows, question, measure, shift, keep):
    answer = _ask(sample_store, question)
    assert answer["status"] == "ok" and answer["kind"] == "compare", answer["message"]
    start, end = NOW - shift, NOW  # the unit back from now
    if "yesterday" in question:
        start, end = TODAY - DAY, TODAY
    if "this week" in question:
        assert NOW.weekday() == 1  # a Tuesday: this week began yesterday at midnight
        start = TODAY - DAY

    def value(rows):
        if measure == "requests":
            return len(rows)
        if measure == "latency":
            return sum(r["latency"] for r in rows) / len(rows)
        column = "total_tokens" if measure == "total_tokens" else "cost"
        return sum(r[column] or 0 for r in rows)

    current = value(_mine(sample_rows, start, end, keep))
    previous = value(_mine(sample_rows, start - shift, end - shift, keep))
    got = {r["period"]: r for r in answer["data"]}
    assert set(got) == {"current", "previous"}  # one value per period: no buckets, no groups
    assert all(r["bucket"] is None and r["group"] is None for r in answer["data"])
    assert got["current"]["value"] == pytest.approx(current, rel=1e-9)
    assert got["previous"]["value"] == pytest.approx(previous, rel=1e-9)


def test_a_status_rate_is_explained_as_that_status(sample_store):
    answer = _ask(sample_store, "why did the 429 rate go up today")
    assert answer["status"] == "ok" and answer["kind"] == "explain", answer["message"]
    assert (answer["request"]["measure"], answer["request"]["status"]) == ("errors", 429)


def test_which_value_is_causing_is_an_explanation_not_a_list(sample_store):
    answer = _ask(sample_store, "which provider is causing the errors today")
    assert answer["status"] == "ok" and answer["kind"] == "explain", answer["message"]
    assert answer["request"]["measure"] == "errors"


def test_which_groups_is_not_a_request_list(sample_store, sample_rows):
    answer = _ask(sample_store, "which models had the slowest requests today")
    assert answer["status"] == "ok" and answer["kind"] == "aggregate", answer["message"]
    assert (answer["request"]["measure"], answer["request"]["groupBy"]) == ("latency", "model")
    today = _mine(sample_rows, TODAY, NOW)
    by_model: dict[str, list[int]] = {}
    for r in today:
        by_model.setdefault(r["model"], []).append(r["latency"])
    slowest = max(by_model, key=lambda m: sum(by_model[m]) / len(by_model[m]))
    assert answer["data"][0]["group"] == slowest
