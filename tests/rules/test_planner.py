"""The planner as a whole (agent/rules/planner.py, build.py): whole questions, follow-ups, declines, speed."""

from __future__ import annotations

import statistics
import time

import pytest

from tests.rules import test_filters, test_measures, test_names, test_shape, test_time
from tests.rules.common import LAST7, check_wording, cond, plan, spec_of

CASES = [
    # (question, expected subset of the spec)
    (
        "What was the 90th percentile latency of gpt-4 over the past week, broken down by day?",
        {
            "measure": "latency",
            "aggregation": "p90",
            "bucket": "day",
            "range": LAST7,
            "conditions": [cond("model", "equals", "gpt-4")],
        },
    ),
    (
        "show me gpt-4 p90 latency daily for the last 7 days",
        {
            "measure": "latency",
            "aggregation": "p90",
            "bucket": "day",
            "range": LAST7,
            "conditions": [cond("model", "equals", "gpt-4")],
        },
    ),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_planner_wordings(question, expected):
    check_wording(question, expected)


@pytest.mark.parametrize(
    "question",
    [
        "what is the meaning of life",
        "hello",
        "how slow was gpt-4 during the incident",
        "latency for streaming requests",
        "latency by weather",
    ],
)
def test_declines_what_it_does_not_understand(question):
    result = plan(question)
    assert result.status == "unparsed"
    assert "didn't understand" in result.message or "couldn't tell" in result.message


def test_follow_ups_edit_the_previous_query():
    first = plan("p90 latency for gpt-4 last week by day").spec
    hourly = spec_of("now by hour", first)
    assert hourly["bucket"] == "hour" and hourly["aggregation"] == "p90"
    assert hourly["conditions"] == [cond("model", "equals", "gpt-4")]
    other = spec_of("what about gpt-4o?", plan("now by hour", first).spec)
    assert other["conditions"] == [cond("model", "equals", "gpt-4o")] and other["bucket"] == "hour"
    month = spec_of("same for last month", first)
    assert month["range"] == {"kind": "last", "n": 30, "unit": "days"} and month["measure"] == "latency"
    by_provider = spec_of("by provider instead", first)
    assert by_provider["groupBy"] == "provider" and by_provider["bucket"] == "day"
    cost = spec_of("what about cost?", first)
    assert cost["measure"] == "cost" and "aggregation" not in cost  # p90 was latency's, cost defaults to sum


def test_a_full_new_question_is_not_a_follow_up():
    first = plan("p90 latency for gpt-4 last week by day").spec
    fresh = spec_of("how many requests yesterday", first)
    assert fresh == {"measure": "requests", "range": {"kind": "yesterday"}}


def test_planner_is_fast():
    families = (test_filters, test_measures, test_names, test_shape, test_time)
    questions = [c[0] for cases in [CASES, *(f.CASES for f in families)] for c in cases] * 3
    times = []
    for q in questions:
        t0 = time.perf_counter()
        plan(q)
        times.append(time.perf_counter() - t0)
    # generous bound for a loaded 2-core CI machine; benchmarks/planner.py reports the real figure
    assert statistics.median(times) < 0.05
