"""The generated wording corpus (tests/corpus.py) on both vocabularies: every question answered exactly or asked back.

A seeded sample per slot family; the full run with figures is `python benchmarks/corpus.py`. Each family's
answered share is recorded with the test (`record_property`); a question answered with another meaning fails it.
"""

from __future__ import annotations

import pytest

from heliqa.agent.forms import FormsPlanner
from heliqa.agent.rules import RulesPlanner
from tests import corpus

PER_FAMILY = 40
PARAMS = [(v, f) for v in corpus.VOCABULARIES for f in corpus.FAMILIES]


@pytest.fixture(scope="module")
def tallies() -> dict[str, corpus.Tally]:
    planner = FormsPlanner(RulesPlanner())
    count = PER_FAMILY * len(corpus.FAMILIES)
    return {v: corpus.run(planner, v, count, seed=1) for v in corpus.VOCABULARIES}


@pytest.mark.parametrize("vocabulary,family", PARAMS)
def test_no_generated_question_is_answered_with_another_meaning(tallies, vocabulary, family, record_property):
    tally = tallies[vocabulary]
    record_property("answered_share", round(tally.share(family), 3))
    assert tally.total(family) == PER_FAMILY
    assert tally.wrong[family] == 0, "\n".join(tally.examples[family][:5])


def test_the_corpus_is_seeded_and_covers_every_family_on_both_vocabularies():
    first = list(corpus.cases("acme", 48, seed=4))
    assert first == list(corpus.cases("acme", 48, seed=4))
    assert first != list(corpus.cases("acme", 48, seed=5))
    assert {c.family for c in first} == set(corpus.FAMILIES)
    questions = " ".join(c.question for c in corpus.cases("acme", 600, seed=1))
    sample = " ".join(c.question for c in corpus.cases("sample", 600, seed=1))
    assert "deepseek" in questions.lower() and "gpt-4" not in questions
    assert "gpt-4" in sample and "deepseek" not in sample.lower()


def test_the_expected_meaning_is_computed_from_the_slots():
    [case] = [c for c in corpus.cases("sample", 12, seed=2) if c.family == "compare"]
    assert case.expected["previous"] is not None and case.expected["time"][2] == 0
    assert corpus.number_words(24, corpus.random.Random(1)) in ("twenty-four", "twenty four")
    assert corpus.ordinal(21) == "21st" and corpus.ordinal(12) == "12th" and corpus.ordinal(23) == "23rd"
    assert (
        corpus.zone_cities()["Tokyo"] == "Asia/Tokyo" and corpus.zone_cities()["Los Angeles"] == "America/Los_Angeles"
    )
