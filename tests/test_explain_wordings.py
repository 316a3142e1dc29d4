"""How on-call engineers word a "why" question: each is an explanation of the measure it names, on both vocabularies.

The wordings name no model, provider or property, so the same question holds for any organization; each runs with
the sample's vocabulary and with the second one's (`acme`, tests/vocabularies.py).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.forms import CompareSpec, ExplainSpec, FormsPlanner, ListSpec
from heliqa.agent.planner import Context
from heliqa.agent.rules import RulesPlanner
from tests import corpus
from tests.rules.common import NOW, VOCAB

VOCABULARIES = {"sample": VOCAB, "acme": corpus.vocabulary("acme")}


def plan(question: str, vocabulary: str):
    ctx = Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=VOCABULARIES[vocabulary])
    return FormsPlanner(RulesPlanner()).plan(question, ctx)


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
@pytest.mark.parametrize(
    ("question", "measure", "range_kind"),
    [
        # "wtf" / "how come" ask why
        ("wtf happened to latency yday", "latency", "yesterday"),
        ("how come cost went up yesterday", "cost", "yesterday"),
        # "what's going on with", "whats with", "what made", "what's making" ask what caused it
        ("whats going on with response times", "latency", "last"),
        ("whats with all the failures today??", "errors", "today"),
        ("what made the api slow on nov 19?", "latency", "day"),
        ("what's making everything slow?", "latency", "last"),
        # the cause of a spike, asked by who drives it
        ("who is driving the cost spike yesterday?", "cost", "yesterday"),
        # chat shorthand and filler: "r", "keep failing", "costing", an outage
        ("why r requests failing", "errors", "last"),
        ("why do requests keep failing today", "errors", "today"),
        ("why is it costing so much today", "cost", "today"),
        ("what caused the outage on nov 21", "errors", "day"),
    ],
)
def test_why_wordings_are_explanations(question, measure, range_kind, vocabulary):
    result = plan(question, vocabulary)
    assert result.status == "ok" and isinstance(result.spec, ExplainSpec), (question, result.status, result.message)
    assert result.spec.measure == measure
    assert (result.spec.range.kind if result.spec.range else "last") == range_kind
    assert result.spec.conditions == []


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
@pytest.mark.parametrize(
    "question",
    [
        "what makes up most of our cost today",  # a breakdown, not a cause
        "whats the p90 latency today",  # a plain "what's" question
        "who is driving cost today",  # the top spender, not a change
    ],
)
def test_look_alikes_are_not_explanations(question, vocabulary):
    result = plan(question, vocabulary)
    assert not isinstance(result.spec, ExplainSpec | CompareSpec | ListSpec), (question, result.spec)
