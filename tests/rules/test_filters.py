"""Filter family (agent/rules/filters.py): thresholds, text in the bodies, status codes."""

from __future__ import annotations

import pytest

from tests.rules.common import check_wording, cond, plan

CASES = [
    # (question, expected subset of the spec)
    (
        "requests longer than 10 seconds by model last week",
        {"measure": "requests", "groupBy": "model", "conditions": [cond("latency", "gt", 10000)]},
    ),
    ("requests faster than 300ms", {"measure": "requests", "conditions": [cond("latency", "lt", 300)]}),
    (
        'how many requests mentioning "password reset" today',
        {"measure": "requests", "conditions": [cond("request_body", "contains", "password reset")]},
    ),
    (
        "requests containing refund in the response",
        {"measure": "requests", "conditions": [cond("response_body", "contains", "refund")]},
    ),
    (
        "completion tokens over 500 tokens... no: requests with more than 2000 total tokens",
        None,
    ),  # mixed, must not be answered as something else
    (
        "requests with more than 2000 prompt tokens",
        {"measure": "requests", "conditions": [cond("prompt_tokens", "gt", 2000)]},
    ),
    ("how many 500 errors yesterday", {"measure": "requests", "conditions": [cond("status", "equals", 500)]}),
    (
        "status 400 requests by model",
        {"measure": "requests", "groupBy": "model", "conditions": [cond("status", "equals", 400)]},
    ),
    (
        "any 5xx errors in the last hour",
        {
            "measure": "requests",
            "range": {"kind": "last", "n": 1, "unit": "hours"},
            "conditions": [cond("status", "gte", 500), cond("status", "lt", 600)],
        },
    ),
    (
        "how many requests mentioned refund each day in the last week",
        {"measure": "requests", "bucket": "day", "conditions": [cond("request_body", "contains", "refund")]},
    ),
    (
        "requests with refund in the prompt today",
        {"measure": "requests", "conditions": [cond("request_body", "contains", "refund")]},
    ),
    (
        "requests without refund in the response",
        {"measure": "requests", "conditions": [cond("response_body", "not-contains", "refund")]},
    ),
    (
        "how many requests returned 500 today",
        {"measure": "requests", "conditions": [cond("status", "equals", 500)]},
    ),
    (
        "requests that returned a 429 yesterday by hour",
        {"measure": "requests", "bucket": "hour", "conditions": [cond("status", "equals", 429)]},
    ),
    (
        "requests with a 500 yesterday",
        {"measure": "requests", "conditions": [cond("status", "equals", 500)]},
    ),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_filters_wordings(question, expected):
    check_wording(question, expected)


def test_a_count_of_tokens_is_not_a_status_code():
    result = plan("requests with 500 prompt tokens yesterday")
    assert result.status != "ok" or all(c.field != "status" for c in result.spec.conditions)
