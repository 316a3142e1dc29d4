"""Names family (agent/rules/names.py, properties.py): models, providers, properties, users, countries."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.planner import Context
from heliqa.tools.results import Vocabulary
from tests.rules.common import NOW, PLANNER, VOCAB, check_wording, cond, plan

CASES = [
    # (question, expected subset of the spec)
    (
        "how much did we spend on claude models yesterday",
        {"measure": "cost", "range": {"kind": "yesterday"}, "conditions": [cond("model", "contains", "claude")]},
    ),
    (
        "p95 latency for gpt-4o and gpt-4o-mini over the last 3 days",
        {
            "measure": "latency",
            "aggregation": "p95",
            "groupBy": "model",
            "conditions": [cond("model", "in", ["gpt-4o", "gpt-4o-mini"])],
        },
    ),
    (
        "daily spend for user_0042 over the past 2 weeks",
        {
            "measure": "cost",
            "bucket": "day",
            "range": {"kind": "last", "n": 2, "unit": "weeks"},
            "conditions": [cond("user", "equals", "user_0042")],
        },
    ),
    (
        "rate limited requests from anthropic on Nov 21",
        {
            "measure": "requests",
            "range": {"kind": "day", "day": "2026-11-21"},
            "conditions": [cond("status", "equals", 429), cond("provider", "equals", "ANTHROPIC")],
        },
    ),
    ("requests from Germany yesterday", {"measure": "requests", "conditions": [cond("country", "equals", "DE")]}),
    (
        "error rate for enterprise customers in prod",
        {
            "measure": "error_rate",
            "conditions": [
                cond("property:customer_tier", "equals", "enterprise"),
                cond("property:environment", "equals", "production"),
            ],
        },
    ),
    (
        "cost for free tier users last week",
        {"measure": "cost", "conditions": [cond("property:customer_tier", "equals", "free")]},
    ),
    (
        "how many enterprise users today",
        {
            "measure": "users",
            "range": {"kind": "today"},
            "conditions": [cond("property:customer_tier", "equals", "enterprise")],
        },
    ),
    (
        "median ttft for claude-3-5-haiku-20241022 since yesterday",
        {
            "measure": "ttft",
            "aggregation": "p50",
            "range": {"kind": "since", "start": "2026-11-23T00:00:00"},
            "conditions": [cond("model", "equals", "claude-3-5-haiku-20241022")],
        },
    ),
    (
        "requests where environment = staging by day this week",
        {"measure": "requests", "conditions": [cond("property:environment", "equals", "staging")], "bucket": "day"},
    ),
    (
        "max latency for gemini-1.5-pro this week",
        {"measure": "latency", "aggregation": "max", "conditions": [cond("model", "equals", "gemini-1.5-pro")]},
    ),
    (
        "gemini flash latency",
        {"measure": "latency", "conditions": [cond("model", "contains", "gemini"), cond("model", "contains", "flash")]},
    ),
    (
        "latency for production vs staging",
        {
            "measure": "latency",
            "groupBy": "property:environment",
            "conditions": [cond("property:environment", "in", ["production", "staging"])],
        },
    ),
    (
        "anthropic vs openai cost last week",
        {"measure": "cost", "groupBy": "provider", "conditions": [cond("provider", "in", ["ANTHROPIC", "OPENAI"])]},
    ),
    (
        "scores by day for support-bot over the past two weeks",
        {
            "measure": "score",
            "bucket": "day",
            "range": {"kind": "last", "n": 2, "unit": "weeks"},
            "conditions": [cond("property:feature", "equals", "support-bot")],
        },
    ),
    (
        "total_tokens for user_0042 yesterday",
        {"measure": "total_tokens", "conditions": [cond("user", "equals", "user_0042")]},
    ),
]


@pytest.mark.parametrize("question,expected", CASES, ids=[c[0][:50] for c in CASES])
def test_names_wordings(question, expected):
    check_wording(question, expected)


@pytest.mark.parametrize(
    "question,needle",
    [
        ("p90 latency for gpt-5 last week", "gpt-5"),
        ("latency for the billing feature", "billing"),
        ("helpfulness for prompt_version v99", "v99"),
    ],
)
def test_clarifies_with_specifics(question, needle):
    result = plan(question)
    assert result.status == "clarify"
    assert needle in result.message


def test_unknown_model_lists_closest_known():
    result = plan("p90 latency for gpt-4-turbo")
    assert result.status == "clarify"
    assert "gpt-4" in result.message and "gpt-4o" in result.message


def test_providers_are_known_even_when_the_backend_cannot_list_them():
    no_providers = Vocabulary(models=VOCAB.models, properties=VOCAB.properties, score_keys=VOCAB.score_keys)
    result = PLANNER.plan(
        "how many requests from anthropic yesterday", Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=no_providers)
    )
    assert result.status == "ok"
    assert result.spec.conditions[0].model_dump() == cond("provider", "equals", "ANTHROPIC")
