"""Every parametrized wording test of the rules planner, run again on the second vocabulary with names substituted.

The cases are read from the tests themselves (tests/rules/test_*.py, tests/test_wording.py), rewritten name by name
into the `acme` organization's words (tests/vocabularies.py), and run by the same test function with that
organization's vocabulary. A case whose words have no counterpart there is skipped.
"""

from __future__ import annotations

import inspect

import pytest

from tests import corpus, test_wording
from tests.rules import common, test_filters, test_measures, test_names, test_planner, test_shape, test_time
from tests.vocabularies import to_acme

MODULES = (test_filters, test_measures, test_names, test_planner, test_shape, test_time, test_wording)


def _cases():
    for module in MODULES:
        for name, function in sorted(vars(module).items()):
            if not name.startswith("test_") or not callable(function):
                continue
            for mark in getattr(function, "pytestmark", []):
                argnames = [a.strip() for a in mark.args[0].split(",")] if mark.name == "parametrize" else []
                if not argnames or argnames[0] != "question":
                    continue
                if set(inspect.signature(function).parameters) != set(argnames):
                    continue  # needs a fixture: runs on the sample only
                for i, values in enumerate(mark.args[1]):
                    values = values.values if hasattr(values, "values") and not isinstance(values, dict) else values
                    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
                    case_id = f"{module.__name__.rsplit('.', 1)[1]}.{name}[{i}]"
                    yield pytest.param(module, name, argnames, values, id=case_id)


CASES = list(_cases())


@pytest.mark.parametrize("module,name,argnames,values", CASES)
def test_the_wording_tests_hold_on_the_second_vocabulary(module, name, argnames, values, monkeypatch):
    renamed = to_acme(values)
    if renamed is None:
        pytest.skip("names a word the second organization has no counterpart for")
    for holder in (common, *MODULES):
        monkeypatch.setattr(holder, "VOCAB", corpus.vocabulary("acme"), raising=False)
    getattr(module, name)(**dict(zip(argnames, renamed, strict=True)))


def test_the_cases_are_collected_and_renamed():
    assert len(CASES) > 150
    assert to_acme(("cost for user_0042 on gpt-4", {"field": "property:feature"})) == (
        "cost for carol.smith on command-r",
        {"field": "property:app"},
    )
    assert to_acme("claude latency") is None
    assert to_acme({"value": "ANTHROPIC"}) == {"value": "GROQ"}
