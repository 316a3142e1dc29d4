"""What the rules planner's tests share: the tests' clock and vocabulary, and the whole-question check."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from heliqa.agent.planner import Context
from heliqa.agent.rules import RulesPlanner
from heliqa.agent.spec import QuerySpec
from heliqa.tools.results import Vocabulary

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)  # a Tuesday
VOCAB = Vocabulary(
    models={
        m: 100
        for m in [
            "gpt-4o-mini",
            "gpt-4o",
            "claude-3-5-sonnet-20241022",
            "gpt-4",
            "claude-3-5-haiku-20241022",
            "gemini-1.5-pro",
            "o3-mini",
            "gemini-1.5-flash",
            "text-embedding-3-small",
            "gpt-4.1",
            "llama-3.1-70b-instruct",
        ]
    },
    providers={"OPENAI": 1, "ANTHROPIC": 1, "GOOGLE": 1, "TOGETHER": 1},
    properties={
        "environment": {"production": 1, "staging": 1, "development": 1},
        "feature": {"support-bot": 1, "search": 1, "summarizer": 1, "codegen": 1, "onboarding": 1},
        "customer_tier": {"free": 1, "pro": 1, "enterprise": 1},
        "prompt_version": {"v12": 1, "v13": 1},
    },
    score_keys={"accuracy": 1, "helpfulness": 1, "is_correct-hcone-bool": 1, "helicone-score-feedback": 1},
)
PLANNER = RulesPlanner()
LAST7 = {"kind": "last", "n": 7, "unit": "days"}


def plan(question: str, previous: QuerySpec | None = None, tz: str = "UTC"):
    """The rules planner's plan at the tests' clock, with the tests' vocabulary."""
    return PLANNER.plan(question, Context(now=NOW, tz=ZoneInfo(tz), vocabulary=VOCAB, previous=previous))


def spec_of(question: str, previous: QuerySpec | None = None) -> dict:
    """The spec the question plans to (it must plan), without defaults."""
    result = plan(question, previous)
    assert result.status == "ok", (question, result.status, result.message)
    return result.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def cond(field, op, value):
    """A condition as the spec's JSON holds it."""
    return {"field": field, "op": op, "value": value}


def check_wording(question: str, expected: dict | None) -> None:
    """The question plans to exactly `expected` (a range not given must be a plain one), or, for None, is not
    answered at all."""
    if expected is None:
        assert plan(question).status != "ok"
        return
    got = spec_of(question)
    for key, value in expected.items():
        if key == "conditions":
            assert sorted(got.get("conditions", []), key=str) == sorted(value, key=str), question
        else:
            assert got.get(key) == value, (question, key, got)
    if "range" not in expected and "range" in got:
        assert got["range"]["kind"] in ("last", "today", "yesterday", "this_week", "this_month", "day", "since")
    # the whole query: nothing beyond what is expected (a range not given above is checked just before)
    assert set(got) - {"range"} <= set(expected), (question, got)
