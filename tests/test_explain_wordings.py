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
        ("wth is going on with errors today", "errors", "today"),
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
        # a part of the day: the explanation searches that whole day (or the last 24 hours) and its window says when
        ("why so many errors this morning", "errors", "today"),
        ("latency was terrible yesterday afternoon - why?", "latency", "yesterday"),
        ("wtf happened to latency overnight", "latency", "last"),
        ("errors spiked around 10am on nov 21, why", "errors", "day"),
        ("why did error rates spike at 4am ET on nov 21", "errors", "day"),
        ("what caused the outage saturday morning", "errors", "day"),
        ("cost spiked around 8am, why", "cost", "last"),
        # the size of the change, and stretched letters
        ("why is spending up 5x today", "cost", "today"),
        ("how come errors doubled yesterday", "errors", "yesterday"),
        ("why is it so slooow today", "latency", "today"),
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
        "what made up most of our cost yesterday",
        "wtf is our p90 latency today",  # a plain question, typed in a hurry
    ],
)
def test_look_alikes_are_not_explanations(question, vocabulary):
    result = plan(question, vocabulary)
    assert not isinstance(result.spec, ExplainSpec | CompareSpec | ListSpec), (question, result.spec)


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
@pytest.mark.parametrize(
    "question",
    [
        "root cause of the latency spike saturday night",  # a weekday's night runs into the next day: asked back
        "cost this morning",  # a part of the day outside a why question is still asked back
    ],
)
def test_parts_of_the_day_that_are_not_read_are_asked_back(question, vocabulary):
    assert plan(question, vocabulary).status != "ok"


@pytest.mark.parametrize("vocabulary", sorted(VOCABULARIES))
@pytest.mark.parametrize(
    ("question", "zone"),
    [
        ("why did the error rate spike around 4am UTC on friday", "UTC"),
        ("why did errors spike at 4am ET on friday", "America/New_York"),
        ("why did errors spike at 10pm PT on thursday", "America/Los_Angeles"),
    ],
)
def test_a_zone_named_with_the_time_is_the_days_zone(question, zone, vocabulary):
    ctx = Context(now=NOW, tz=ZoneInfo("Asia/Tokyo"), vocabulary=VOCABULARIES[vocabulary])  # asked from elsewhere
    result = FormsPlanner(RulesPlanner()).plan(question, ctx)
    assert result.status == "ok" and isinstance(result.spec, ExplainSpec), result.message
    offset = ZoneInfo(zone).utcoffset(NOW.replace(tzinfo=None))
    assert ZoneInfo(result.spec.timeZone).utcoffset(NOW.replace(tzinfo=None)) == offset, result.spec.timeZone
