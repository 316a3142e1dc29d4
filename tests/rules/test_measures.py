"""Measures, scores and aggregations (agent/rules/measures.py, scores.py, aggregation.py)."""

from __future__ import annotations

import pytest

from tests.rules.common import check_wording, cond, plan

CASES = [
    # (question, expected subset of the spec)
    (
        "gpt-4o p99.9 response time in the past 2 hours",
        {
            "measure": "latency",
            "aggregation": "p99.9",
            "range": {"kind": "last", "n": 2, "unit": "hours"},
            "conditions": [cond("model", "equals", "gpt-4o")],
        },
    ),
    (
        "total prompt tokens by feature last month",
        {"measure": "prompt_tokens", "groupBy": "property:feature", "range": {"kind": "last", "n": 30, "unit": "days"}},
    ),
    ("what's the thumbs-up rate this week", {"measure": "score", "scoreKey": "helicone-score-feedback"}),
    ("share of positive feedback last month", {"measure": "score", "scoreKey": "helicone-score-feedback"}),
    (
        "accuracy by prompt version over the last 14 days",
        {"measure": "score", "scoreKey": "accuracy", "groupBy": "property:prompt_version"},
    ),
    ("eval scores by day this week", {"measure": "score", "bucket": "day", "range": {"kind": "this_week"}}),
    ("cost per request by model", {"measure": "cost", "aggregation": "avg", "groupBy": "model"}),
    ("threat count by country this month", {"measure": "threats", "groupBy": "country"}),
    ("how many requests errored today", {"measure": "errors", "range": {"kind": "today"}}),
    ("What percent of requests failed yesterday?", {"measure": "error_rate", "range": {"kind": "yesterday"}}),
    (
        "How many tokens did gpt-4 use yesterday?",
        {"measure": "total_tokens", "conditions": [cond("model", "equals", "gpt-4")]},
    ),
    ("error rates per model in the past day", {"measure": "error_rate", "groupBy": "model"}),
    (
        "correctness rate of the summarizer feature daily over the last 10 days",
        {
            "measure": "score",
            "scoreKey": "is_correct-hcone-bool",
            "bucket": "day",
            "conditions": [cond("property:feature", "equals", "summarizer")],
        },
    ),
    ("lowest accuracy by day", {"measure": "score", "scoreKey": "accuracy", "bucket": "day"}),
    (
        "p90 latency across all models last week by day",
        {"measure": "latency", "aggregation": "p90", "bucket": "day", "conditions": []},
    ),
    ("how did accuracy change over the last 30 days", {"measure": "score", "scoreKey": "accuracy", "bucket": "day"}),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_measures_wordings(question, expected):
    check_wording(question, expected)


@pytest.mark.parametrize(
    "question,needle",
    [
        ("latency p50 vs p99", "two aggregations"),
        ("cost and latency by model", "one measure"),
        ("average requests per day", "count"),
    ],
)
def test_clarifies_with_specifics(question, needle):
    result = plan(question)
    assert result.status == "clarify"
    assert needle in result.message
