"""Follow-ups keep their scope: each follow-up word after each kind of answer carries the previous range, filters,
measure and form over (unless it names new ones), and with nothing before it asks back."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.conversation import Conversation
from heliqa.agent.factory import make_planner
from heliqa.agent.forms import CompareSpec, ExplainSpec, ListSpec
from heliqa.agent.spec import QuerySpec
from tests.conftest import MAIN_ORG, NOW

PREVIOUS = {
    "aggregate": "p90 latency for gpt-4 last week by day",
    "compare": "cost by model today vs yesterday",
    "list": "show me the 5 most recent failed requests",
    "explain": "why was gpt-4 slow on nov 19?",
}
# (follow-up, previous kind) -> (kind of the answer, what must carry over)
TABLE = {
    ("why?", "aggregate"): ("explain", {"measure": "latency", "model": "gpt-4", "range": "last 7 days"}),
    ("why?", "compare"): ("explain", {"measure": "cost", "range": "today"}),
    ("why?", "list"): ("explain", {"measure": "errors"}),
    ("why?", "explain"): ("explain", {"measure": "latency", "model": "gpt-4", "range": "nov 19"}),
    ("why the spike?", "aggregate"): ("explain", {"measure": "latency", "model": "gpt-4", "range": "last 7 days"}),
    ("why the spike?", "compare"): ("explain", {"measure": "cost", "range": "today"}),
    ("why the spike?", "explain"): ("explain", {"measure": "latency", "model": "gpt-4", "range": "nov 19"}),
    ("show me those requests", "aggregate"): ("list", {"model": "gpt-4", "order": "latency", "range": "last 7 days"}),
    ("show me those requests", "compare"): ("list", {"order": "cost", "range": "today"}),
    ("show me those requests", "list"): ("list", {"status": 400}),
    ("show me those requests", "explain"): ("list", {"model": "gpt-4", "order": "latency", "window": True}),
    ("compare with last week", "aggregate"): ("compare", {"model": "gpt-4", "agg": "p90", "range": "last 7 days"}),
    ("compare with last week", "compare"): ("compare", {"group": "model", "range": "today"}),
    # the list's own range (its default: the last 24 hours) against the same hours a week before, not 7 days
    ("compare with last week", "list"): ("compare", {"status": 400, "range": "last 24 hours", "shift": (7, "days")}),
    ("compare with last week", "explain"): ("compare", {"model": "gpt-4", "agg": "p90", "range": "nov 19"}),
    ("just anthropic", "aggregate"): ("aggregate", {"model": "gpt-4", "provider": "ANTHROPIC"}),
    ("just anthropic", "compare"): ("compare", {"provider": "ANTHROPIC", "group": "model", "range": "today"}),
    ("just anthropic", "list"): ("list", {"provider": "ANTHROPIC", "status": 400}),
    ("just anthropic", "explain"): ("explain", {"measure": "latency", "provider": "ANTHROPIC", "range": "nov 19"}),
    ("by hour", "aggregate"): ("aggregate", {"model": "gpt-4", "agg": "p90", "bucket": "hour", "range": "last 7 days"}),
    ("by hour", "compare"): ("compare", {"group": "model", "bucket": "hour", "range": "today"}),
    ("by hour", "list"): ("aggregate", {"status": 400, "bucket": "hour"}),
    ("how many?", "aggregate"): ("aggregate", {"measure": "requests", "model": "gpt-4", "range": "last 7 days"}),
    ("how many?", "compare"): ("compare", {"measure": "requests", "group": "model", "range": "today"}),
    ("how many?", "list"): ("aggregate", {"measure": "requests", "status": 400}),
    ("count them", "explain"): ("aggregate", {"measure": "requests", "model": "gpt-4", "range": "nov 19"}),
    # a new measure: explained when an explanation judges it, else answered as asked (never the old one again)
    ("and errors?", "explain"): ("explain", {"measure": "errors", "model": "gpt-4", "range": "nov 19"}),
    ("what about cost?", "explain"): ("explain", {"measure": "cost", "model": "gpt-4", "range": "nov 19"}),
    ("p99?", "explain"): ("aggregate", {"measure": "latency", "agg": "p99", "model": "gpt-4", "range": "nov 19"}),
    ("what about cost?", "list"): ("aggregate", {"measure": "cost", "status": 400}),
    ("by hour", "explain"): ("aggregate", {"model": "gpt-4", "agg": "p90", "bucket": "hour", "range": "nov 19"}),
}
RANGES = {
    "last 7 days": ("last", 7, "days"),
    "last 24 hours": ("last", 24, "hours"),
    "today": ("today", None, None),
    "nov 19": ("day", None, None),
}


def _chat(store) -> Conversation:
    return Conversation(store, make_planner("rules"), MAIN_ORG, ZoneInfo("UTC"), NOW)


def _query(spec) -> QuerySpec | ListSpec | ExplainSpec:
    return spec.query if isinstance(spec, CompareSpec) else spec


def _value(spec, field: str):
    conditions = getattr(_query(spec), "conditions", [])
    return next((c.value for c in conditions if c.field == field), None)


@pytest.mark.parametrize(("follow_up", "kind"), list(TABLE), ids=[f"{k}-after-{f}" for f, k in TABLE])
def test_a_follow_up_keeps_the_previous_scope(sample_store, follow_up, kind):
    chat = _chat(sample_store)
    assert chat.ask(PREVIOUS[kind]).status == "ok"
    answer = chat.ask(follow_up)
    want_kind, carried = TABLE[(follow_up, kind)]
    assert answer.status == "ok", answer.message
    assert answer.kind == want_kind, answer.interpretation
    spec = answer.spec
    for key, want in carried.items():
        if key in ("model", "provider", "status"):
            assert _value(spec, key) == want, answer.interpretation
        elif key == "measure":
            assert _query(spec).measure == want, answer.interpretation
        elif key == "agg":
            assert _query(spec).aggregation == want, answer.interpretation
        elif key == "order":
            assert spec.order == want, answer.interpretation
        elif key == "window":
            assert spec.window is not None
        elif key == "group":
            assert _query(spec).groupBy == want
        elif key == "bucket":
            assert _query(spec).bucket == want
        elif key == "shift":
            assert (spec.shiftN, spec.shiftUnit) == want, answer.interpretation
        elif key == "range":
            kind_, n, unit = RANGES[want]
            range_ = _query(spec).range
            assert (range_.kind, range_.n, range_.unit) == (kind_, n, unit), answer.interpretation


@pytest.mark.parametrize("follow_up", ["why?", "why the spike?", "show me those requests", "show them"])
def test_a_follow_up_with_nothing_before_asks_back(sample_store, follow_up):
    answer = _chat(sample_store).ask(follow_up)
    assert answer.status == "clarify" and "no earlier answer" in answer.message
    assert answer.query is None  # nothing ran


def test_a_whole_question_after_a_comparison_is_not_turned_into_one(sample_store):
    chat = _chat(sample_store)
    chat.ask(PREVIOUS["compare"])
    answer = chat.ask("cost by model yesterday for anthropic")
    assert answer.kind == "aggregate"


def test_the_repl_keeps_the_scope_of_a_spike_it_showed(sample_store):
    import io

    from rich.console import Console

    from heliqa.repl import Repl

    out = io.StringIO()
    repl = Repl(_chat(sample_store), Console(file=out, width=200, force_terminal=False, color_system=None), out)
    for line in (PREVIOUS["aggregate"], "why?", "show me those requests"):
        assert repl.handle(line)
    text = out.getvalue()
    assert "explain p90 latency · model = gpt-4 · Nov 17 12:00 → Nov 24 12:00 UTC" in text
    assert "requests · model = gpt-4 ·" in text and "slowest first" in text
    assert "Nothing stands out" not in text


@pytest.mark.parametrize("reply", ["404", "what about 404s", "404s?", "just the 404 ones"])
def test_a_status_code_alone_after_a_list_lists_that_status_keeping_its_length_and_range(sample_store, reply):
    chat = _chat(sample_store)
    chat.ask("show me the last 5 failed requests yesterday")
    answer = chat.ask(reply)
    assert answer.kind == "list", answer.interpretation
    assert [(c.field, c.op, c.value) for c in answer.spec.conditions] == [("status", "equals", 404)]
    assert (answer.spec.limit, answer.spec.range.kind) == (5, "yesterday"), answer.interpretation


def test_a_status_class_alone_after_a_count_or_comparison_replaces_its_status(sample_store):
    chat = _chat(sample_store)
    chat.ask("how many 429s today")
    answer = chat.ask("5xx?")
    assert answer.kind == "aggregate" and answer.spec.range.kind == "today", answer.interpretation
    assert [(c.op, c.value) for c in answer.spec.conditions] == [("gte", 500), ("lt", 600)]
    chat.ask("requests with status 429 today vs yesterday")
    answer = chat.ask("500")
    assert answer.kind == "compare" and _value(answer.spec, "status") == 500, answer.interpretation
    chat.ask("p90 latency today")  # no status to replace: a bare number is no question
    assert chat.ask("404").status != "ok"
