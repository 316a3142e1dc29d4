"""FormsPlanner's rule table: which words make a comparison, a request list or an explanation, and which do not."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.forms import CompareSpec, ExplainSpec, FormsPlanner, ListSpec
from heliqa.agent.planner import Context
from heliqa.agent.rules import RulesPlanner
from heliqa.agent.spec import QuerySpec
from heliqa.tools.results import Vocabulary

VOCAB = Vocabulary(
    models={"gpt-4": 10, "gpt-4o": 10, "claude-3-5-sonnet-20241022": 5, "claude-3-5-haiku-20241022": 5},
    providers={"OPENAI": 20, "ANTHROPIC": 10},
    properties={"feature": {"support-bot": 5, "search": 5}, "prompt_version": {"v12": 3, "v13": 2}},
    score_keys={"accuracy": 5, "is_correct-hcone-bool": 5},
    users=2,
    user_ids={"user_0042": 5, "user_0001": 5},
)
CTX = Context(now=datetime(2026, 11, 24, 12, tzinfo=UTC), tz=ZoneInfo("UTC"), vocabulary=VOCAB)


def plan(question: str, previous=None):
    ctx = Context(now=CTX.now, tz=CTX.tz, vocabulary=VOCAB, previous=previous)
    return FormsPlanner(RulesPlanner()).plan(question, ctx)


@pytest.mark.parametrize(
    ("question", "shift", "range_kind"),
    [
        ("request count today vs yesterday", (1, "days"), "today"),
        ("cost by model this week compared to last week", (7, "days"), "this_week"),
        ("gpt-4 spend week over week", (7, "days"), "last"),
        ("total tokens in the past 6 hours compared to the previous period", (None, None), "last"),
        ("tokens last 24h vs previous 24h", (24, "hours"), "last"),
        ("compare cost today and yesterday", (1, "days"), "today"),
        ("requests this month vs last month", (30, "days"), "this_month"),
        ("p50 latency day over day", (1, "days"), "last"),
        # shorthand for the units and for yesterday
        ("lat for gpt-4 this wk vs last wk", (7, "days"), "this_week"),
        ("errs today vs yday", (1, "days"), "today"),
        # a weekday and the same weekday a week before: two named days
        ("errors this monday vs last monday", (7, "days"), "day"),
        ("cost on tuesday vs the tuesday before", (7, "days"), "day"),
        # the comparative split from its "than"
        ("did we spend more this week than last week", (7, "days"), "this_week"),
        ("was gpt-4 slower today than yesterday", (1, "days"), "today"),
    ],
)
def test_comparisons(question, shift, range_kind):
    result = plan(question)
    assert result.status == "ok" and isinstance(result.spec, CompareSpec), result.message
    assert (result.spec.shiftN, result.spec.shiftUnit) == shift
    assert result.spec.query.range.kind == range_kind


@pytest.mark.parametrize(
    ("question", "order", "limit"),
    [
        ("show me the 5 most recent failed requests", "newest", 5),
        ("list the 3 slowest gpt-4o requests yesterday", "latency", 3),
        ("which requests mentioned password today", "newest", 10),
        ("the 5 biggest requests in the last 6 hours", "tokens", 5),
        ("show 429s from anthropic", "newest", 10),
        ("which gpt-4 requests took the longest today", "latency", 10),
        ("the most recent error", "newest", 1),
        ("what was the most expensive call today", "cost", 1),
    ],
)
def test_lists(question, order, limit):
    result = plan(question)
    assert result.status == "ok" and isinstance(result.spec, ListSpec), result.message
    assert (result.spec.order, result.spec.limit) == (order, limit)


@pytest.mark.parametrize(
    ("question", "measure", "status"),
    [
        ("why is everything so slow?", "latency", None),
        ("what happened on nov 19", None, None),
        ("did errors spike today", "errors", None),
        ("why are we getting so many 429s", "errors", 429),
        ("why did we spend so much yesterday?", "cost", None),
        ("support-bot accuracy dropped, why?", "score", None),
        ("why did gpt-4 get slower this week", "latency", None),
        ("why did claude get pricier this week", "cost", None),
    ],
)
def test_explanations(question, measure, status):
    result = plan(question)
    assert result.status == "ok" and isinstance(result.spec, ExplainSpec), result.message
    assert (result.spec.measure, result.spec.status) == (measure, status)


@pytest.mark.parametrize(
    "question",
    [
        "p90 latency claude-3-5-haiku-20241022 vs gpt-4o over the last 48 hours",  # two models, not two periods
        "how many failed requests today",  # a count, not a list
        "show me errors by model",  # grouped: an aggregate
        "the slowest model yesterday",  # a group, not requests
        "why is spend spiking? cost by model in the last 4 hours",  # a remark, then the query asked
        "errors over the last 3 hours",  # 'last 3' is the range
        "what % of requests went to gpt-4 today",  # a share of the requests, not the requests
    ],
)
def test_not_a_form(question):
    result = plan(question)
    assert not isinstance(result.spec, CompareSpec | ListSpec | ExplainSpec)


def test_follow_ups_edit_the_last_question():
    previous = QuerySpec(measure="cost", groupBy="model")
    compared = plan("compare with last week", previous=previous)
    assert isinstance(compared.spec, CompareSpec) and compared.spec.query.groupBy == "model"
    assert compared.spec.shiftN == 7
    listed = plan("show me those requests", previous=ExplainSpec(measure="cost"))
    assert isinstance(listed.spec, ListSpec)  # no window found yet: the range's requests
    found = ListSpec(order="cost", limit=20)
    assert plan("show me those requests", previous=ExplainSpec(measure="cost", found=found)).spec == found


def test_this_weekday_vs_last_is_that_day_and_the_one_a_week_before():
    result = plan("errors this monday vs last monday")  # Tuesday Nov 24: this Monday was yesterday
    assert result.spec.query.range.day.isoformat() == "2026-11-23" and result.spec.shiftN == 7
    assert plan("errors last monday vs the previous monday").spec.query.range.day.isoformat() == "2026-11-23"
    assert plan("errors this friday vs last friday").status == "clarify"  # this Friday is still to come
    assert plan("errors monday vs sunday").status != "ok"  # two different weekdays: not a week apart
