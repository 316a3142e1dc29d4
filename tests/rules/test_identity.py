"""The identity tool (tests/rules/identity.py): the same planner gives the same outputs; a change is named."""

from __future__ import annotations

from tests.rules.common import VOCAB
from tests.rules.identity import NOW, collect_strings, differences, run_all
from tests.rules.identity import ROOT as REPO

QUESTIONS = [{"question": q, "now": NOW, "tz": "UTC"} for q in ("cost by model today", "p90 latency", "hello")]


def test_a_rerun_shows_no_difference_and_a_change_is_named_with_its_question():
    before = run_all(QUESTIONS, {"tests": VOCAB})
    after = run_all(QUESTIONS, {"tests": VOCAB})
    assert differences(before, after) == []
    key = next(k for k in after["tests"] if k.startswith("p90 latency"))
    after["tests"][key]["rules"] = {**after["tests"][key]["rules"], "status": "clarify"}
    changed = differences(before, after)
    assert len(changed) == 1 and "p90 latency" in changed[0] and "status" in changed[0]


def test_the_questions_come_from_the_tests():
    strings = collect_strings(REPO / "tests" / "rules")
    assert "spend by model this week" in strings and "requests on monday" in strings
