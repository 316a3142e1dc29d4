"""The rule table: every rule's examples fire that rule and produce its spec fragment, and need that rule."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from heliqa.agent.planner import Context, Plan
from heliqa.agent.rules import RULES, RulesPlanner
from heliqa.agent.rules.__main__ import main as print_table
from heliqa.tools.errors import Clarify
from tests.rules.common import NOW, VOCAB

PLANNER = RulesPlanner()


def _ctx() -> Context:
    return Context(now=NOW, tz=ZoneInfo("UTC"), vocabulary=VOCAB)


def _fired(question: str) -> list[str]:
    """The rules that took words of `question` (or asked it back)."""
    try:
        parse, _ = PLANNER.scan(question, _ctx())
    except Clarify as ask:
        return [note.removeprefix("rule: ") for note in getattr(ask, "__notes__", [])]
    return parse.fired


def _outcome(plan: Plan) -> dict:
    if plan.status != "ok":
        return {"status": plan.status}
    return {"status": "ok", **plan.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)}


def _holds(fragment, whole) -> bool:
    """Whether `whole` holds `fragment` (a key whose fragment value is None must be absent)."""
    if isinstance(fragment, dict):
        return isinstance(whole, dict) and all(
            k not in whole if v is None else k in whole and _holds(v, whole[k]) for k, v in fragment.items()
        )
    return fragment == whole


def test_a_fragment_checks_what_it_names_and_what_it_says_is_absent():
    assert _holds({"range": {"kind": "today"}, "groupBy": None}, {"range": {"kind": "today", "n": 1}, "measure": "x"})
    assert not _holds({"groupBy": None}, {"groupBy": "model"})
    assert not _holds({"range": {"kind": "today"}}, {"range": {"kind": "yesterday"}})


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_rule_fires_on_its_examples(rule):
    assert rule.examples, f"rule '{rule.name}' has no example"
    for example in rule.examples:
        assert rule.name in _fired(example), (rule.name, example, _fired(example))


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_example_produces_its_spec_fragment(rule):
    for example, fragment in rule.examples.items():
        outcome = _outcome(PLANNER.plan(example, _ctx()))
        if "status" not in fragment:
            assert outcome["status"] == "ok", (rule.name, example, outcome)
        assert _holds(dict(fragment), outcome), (rule.name, example, fragment, outcome)


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_every_example_needs_its_rule(rule):
    """Without the rule its examples read differently: no earlier (or later) rule already does its work."""
    without = RulesPlanner(tuple(r for r in RULES if r is not rule))
    for example in rule.examples:
        with_rule = _outcome(PLANNER.plan(example, _ctx()))
        assert _outcome(without.plan(example, _ctx())) != with_rule, (rule.name, example)


def test_rules_run_in_priority_order_with_unique_names_and_priorities():
    assert [r.priority for r in RULES] == sorted(r.priority for r in RULES)
    assert len({r.name for r in RULES}) == len(RULES)
    assert len({r.priority for r in RULES}) == len(RULES)


def test_the_table_prints_in_order_with_examples(capsys):
    print_table()
    out = capsys.readouterr().out
    headers = [line.split(None, 1) for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [(int(priority), rest[:28].strip()) for priority, rest in headers] == [(r.priority, r.name) for r in RULES]
    assert "'cost by day'" in out and '{"bucket": "day"}' in out
