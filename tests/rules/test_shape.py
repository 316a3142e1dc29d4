"""Shape family (agent/rules/buckets.py, groups.py, shape.py): buckets, grouping, top N, superlatives."""

from __future__ import annotations

import pytest

from tests.rules.common import check_wording, cond

CASES = [
    # (question, expected subset of the spec)
    ("spend by model this week", {"measure": "cost", "groupBy": "model", "range": {"kind": "this_week"}}),
    (
        "errors per hour in the last 12h",
        {"measure": "errors", "bucket": "hour", "range": {"kind": "last", "n": 12, "unit": "hours"}},
    ),
    (
        "which model has the highest error rate today",
        {"measure": "error_rate", "groupBy": "model", "top": 1, "range": {"kind": "today"}},
    ),
    ("top 3 models by latency last week", {"measure": "latency", "groupBy": "model", "top": 3}),
    ("most expensive users this month", {"measure": "cost", "groupBy": "user", "top": 10}),
    ("users by day", {"measure": "users", "bucket": "day"}),
    ("cost trend over the last 30 days", {"measure": "cost", "bucket": "day"}),
    ("cost breakdown by provider", {"measure": "cost", "groupBy": "provider"}),
    ("daily active users last 2 weeks", {"measure": "users", "bucket": "day"}),
    ("top 3 features by cost", {"measure": "cost", "groupBy": "property:feature", "top": 3}),
    ("top 2 environments by cost", {"measure": "cost", "groupBy": "property:environment", "top": 2}),
    ("requests per status code yesterday", {"measure": "requests", "groupBy": "status"}),
    ("top five users by cost this month", {"measure": "cost", "groupBy": "user", "top": 5}),
    (
        "highest latency for gemini-1.5-pro this week",
        {"measure": "latency", "aggregation": "max", "conditions": [cond("model", "equals", "gemini-1.5-pro")]},
    ),
    ("which model has the highest latency", {"measure": "latency", "groupBy": "model", "top": 1}),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_shape_wordings(question, expected):
    check_wording(question, expected)
