"""The organization's own words (agent/orgwords.py): spellings of keys and values, users of any shape, zone cities."""

from __future__ import annotations

import pytest

from heliqa.agent.orgwords import (
    forms,
    group_words,
    key_words,
    plural,
    spell_out_numbers,
    user_words,
    value_words,
    zone_words,
)
from heliqa.tools.results import Vocabulary
from tests import corpus


def test_a_name_is_matched_whatever_its_spelling():
    assert forms("customer_tier") >= {"customer_tier", "customer tier", "customer-tier", "customer tiers"}
    assert forms("Docs-QA") >= {"docs-qa", "docs qa", "docs_qa"}
    assert [plural(w) for w in ("team", "policy", "status", "day")] == ["teams", "policies", "statuses", "days"]


@pytest.mark.parametrize("name", corpus.VOCABULARIES)
def test_every_key_of_either_vocabulary_is_named_by_its_spellings(name):
    vocab = corpus.vocabulary(name)
    words = key_words(vocab)
    for key in vocab.properties:
        assert all(words[form] == key for form in forms(key)), key


def test_a_part_or_a_short_form_names_a_key_only_where_no_key_is_spelled_so():
    vocab = Vocabulary(properties={"customer_tier": {}, "environment": {}, "tier": {}, "release_version": {}})
    words = key_words(vocab, reserved={"version"})
    assert words["tier"] == "tier" and words["env"] == "environment"
    assert "version" not in words  # a grammar word never names a key by a part


def test_the_organizations_keys_come_before_the_built_in_group_words():
    builtin = {"region": "country", "customer": "user", "model": "model"}
    acme = group_words(corpus.vocabulary("acme"), builtin, frozenset())
    sample = group_words(corpus.vocabulary("sample"), builtin, frozenset())
    assert acme["region"] == "property:region" and acme["customer"] == "property:customer"
    assert acme["regions"] == "property:region" and acme["model"] == "model"
    assert sample["region"] == "country" and sample["customer"] == "user"


def test_values_are_indexed_in_every_spelling_and_short_forms_only_for_values_held():
    vocab = Vocabulary(properties={"app": {"docs-qa": 1, "code_review": 1}, "stage": {"production": 1}})
    words = value_words(vocab)
    assert words["docs qa"] == words["docs_qa"] == [("app", "docs-qa")]
    assert words["code review"] == [("app", "code_review")] and words["prod"] == [("stage", "production")]
    assert "dev" not in words


def test_users_of_any_shape_are_names():
    vocab = corpus.vocabulary("acme")
    users = user_words(vocab)
    assert users["bob"] == "bob" and users["carol.smith"] == "carol.smith" and users["alice@acme.io"] == "alice@acme.io"


def test_zones_are_named_by_the_zone_databases_cities():
    zones = zone_words()
    assert (
        zones["tokyo"] == "Asia/Tokyo"
        and zones["lisbon"] == "Europe/Lisbon"
        and zones["new york"] == "America/New_York"
    )
    assert zones["buenos aires"].endswith("Buenos_Aires")  # one clock under two names
    assert zones["pst"] == "America/Los_Angeles" and zones["utc"] == "UTC"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("cost over the last twenty-four hours", "cost over the last 24 hours"),
        ("top five users by cost", "top 5 users by cost"),
        ("past fourteen days", "past 14 days"),
        ("quick one: cost today", "quick one: cost today"),
    ],
)
def test_number_words_become_digits(text, expected):
    assert spell_out_numbers(text) == expected


# --- whole questions on both vocabularies: each general rule, answered exactly or asked back ---------------------
def _plan(vocabulary: str, question: str):
    from zoneinfo import ZoneInfo

    from heliqa.agent.factory import make_planner
    from heliqa.agent.planner import Context

    ctx = Context(now=corpus.NOW, tz=ZoneInfo("UTC"), vocabulary=corpus.vocabulary(vocabulary))
    return make_planner("rules").plan(question, ctx)


def _whole(vocabulary: str, question: str) -> dict:
    result = _plan(vocabulary, question)
    assert result.status == "ok", (question, result.status, result.message)
    return result.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def _cond(field, op, value):
    return {"field": field, "op": op, "value": value}


TODAY, YESTERDAY = {"kind": "today"}, {"kind": "yesterday"}
WHOLE = [
    # the organization's own keys come first; the built-in meaning only where it has no such key
    ("acme", "error rate by region", {"measure": "error_rate", "groupBy": "property:region"}),
    ("sample", "error rate by region", {"measure": "error_rate", "groupBy": "country"}),
    ("acme", "which customer cost us the most", {"measure": "cost", "groupBy": "property:customer", "top": 1}),
    ("sample", "which customer cost us the most", {"measure": "cost", "groupBy": "user", "top": 1}),
    ("sample", "cost by Customer Tiers today",
     {"measure": "cost", "groupBy": "property:customer_tier", "range": TODAY}),
    ("acme", "p90 latency per deployments",
     {"measure": "latency", "aggregation": "p90", "groupBy": "property:deployment"}),
    # values in any spelling, and "non-"
    ("sample", "requests for the support bot feature",
     {"measure": "requests", "conditions": [_cond("property:feature", "equals", "support-bot")]}),
    ("acme", "requests for DOCS QA today",
     {"measure": "requests", "range": TODAY, "conditions": [_cond("property:app", "equals", "docs-qa")]}),
    ("sample", "cost for non-prod today",
     {"measure": "cost", "range": TODAY, "conditions": [_cond("property:environment", "not-equals", "production")]}),
    ("acme", "cost for non-canary deployments today",
     {"measure": "cost", "range": TODAY, "conditions": [_cond("property:deployment", "not-equals", "canary")]}),
    # users of any id shape, also when the id is an English word
    ("acme", "how many requests did bob make yesterday",
     {"measure": "requests", "range": YESTERDAY, "conditions": [_cond("user", "equals", "bob")]}),
    ("acme", "cost for alice@acme.io and carol.smith today",
     {"measure": "cost", "groupBy": "user", "range": TODAY,
      "conditions": [_cond("user", "in", ["alice@acme.io", "carol.smith"])]}),
    ("sample", "cost for user_0042 today", {"measure": "cost", "range": TODAY,
                                          "conditions": [_cond("user", "equals", "user_0042")]}),
    # shares, ranking words by the measure's bad end, number words
    ("acme", "what % of groq provider requests failed today",
     {"measure": "error_rate", "range": TODAY, "conditions": [_cond("provider", "equals", "GROQ")]}),
    ("sample", "what share of gpt-4 calls errored yesterday",
     {"measure": "error_rate", "range": YESTERDAY, "conditions": [_cond("model", "equals", "gpt-4")]}),
    ("acme", "worst app by groundedness this week",
     {"measure": "score", "scoreKey": "groundedness", "groupBy": "property:app", "top": 1, "bottom": True,
      "range": {"kind": "this_week"}}),
    ("sample", "cheapest model today", {"measure": "cost", "groupBy": "model", "top": 1, "bottom": True,
                                        "range": TODAY}),
    ("acme", "cost over the last twenty-four hours", {"measure": "cost", "range": {"kind": "last", "n": 24,
                                                                                    "unit": "hours"}}),
    ("sample", "top fourteen users by cost", {"measure": "cost", "groupBy": "user", "top": 14}),
    # dates in every form, zones by the zone database's cities
    ("acme", "cost on 11/19", {"measure": "cost", "range": {"kind": "day", "day": "2026-11-19"}}),
    ("sample", "cost on the 21st of this month", {"measure": "cost", "range": {"kind": "day", "day": "2026-11-21"}}),
    ("acme", "errors on saturday the 21st", {"measure": "errors", "range": {"kind": "day", "day": "2026-11-21"}}),
    ("sample", "cost on tuesday", {"measure": "cost", "range": {"kind": "day", "day": "2026-11-17"}}),
    ("acme", "cost yesterday in Lisbon time", {"measure": "cost", "range": YESTERDAY, "timeZone": "Europe/Lisbon"}),
    ("sample", "cost yesterday (PST)", {"measure": "cost", "range": YESTERDAY, "timeZone": "America/Los_Angeles"}),
    # a remark before the question
    ("acme", "customer says it's slow, p90 latency by model today",
     {"measure": "latency", "aggregation": "p90", "groupBy": "model", "range": TODAY}),
    ("sample", "sorry to bug you - cost by provider today", {"measure": "cost", "groupBy": "provider",
                                                             "range": TODAY}),
    # a provider that is also a family word, named as the provider
    ("acme", "cost from the mistral provider", {"measure": "cost",
                                                "conditions": [_cond("provider", "equals", "MISTRAL")]}),
    ("acme", "cost excluding Spain and the US today",
     {"measure": "cost", "range": TODAY,
      "conditions": [_cond("country", "not-equals", "ES"), _cond("country", "not-equals", "US")]}),
    ("acme", "total cost excluding the CARE TEAM and TEAM = platform",
     {"measure": "cost", "conditions": [_cond("property:team", "not-equals", "care"),
                                        _cond("property:team", "not-equals", "platform")]}),
    ("sample", "requests that weren't 200s today",
     {"measure": "requests", "range": TODAY, "conditions": [_cond("status", "not-equals", 200)]}),
]  # fmt: skip


@pytest.mark.parametrize("vocabulary,question,expected", WHOLE, ids=[f"{v}:{q[:40]}" for v, q, _ in WHOLE])
def test_whole_questions_in_each_organizations_words(vocabulary, question, expected):
    got, want = _whole(vocabulary, question), dict(expected)
    assert sorted(got.pop("conditions", []), key=str) == sorted(want.pop("conditions", []), key=str)
    assert got == want


def test_two_named_days_are_the_current_and_the_previous_period():
    spec = _whole("acme", "cost on nov 22 vs nov 21")
    assert spec == {"query": {"measure": "cost", "range": {"kind": "day", "day": "2026-11-22"}}, "shiftN": 1,
                    "shiftUnit": "days"}  # fmt: skip
    week = _whole("sample", "errors on Nov 21st vs the same day a week earlier")
    assert week["query"]["range"] == {"kind": "day", "day": "2026-11-21"} and week["shiftN"] == 7
    assert _plan("sample", "cost on nov 21 vs nov 22").status == "clarify"


ASKED = [
    ("acme", "mistral cost today", "both a provider and a model family"),  # provider and family word
    ("sample", "write me a haiku about our latency", "reads as the word"),  # an English word, not the models
    ("acme", "latency by tier", "tier"),  # a built-in word the organization has no key for
    ("acme", "cost by feature", "feature"),
    ("sample", "accuracy for v13 by prompt version", "groups by prompt_version"),  # a value named twice
    ("acme", "cost on friday the 21st", "is a Saturday"),  # a weekday that is not the date's
    ("sample", "latency for the billing feature", "billing"),  # a value nobody recorded
    ("acme", "cost for the billing app", "billing"),
]


@pytest.mark.parametrize("vocabulary,question,needle", ASKED, ids=[f"{v}:{q[:40]}" for v, q, _ in ASKED])
def test_name_collisions_and_unknown_names_are_asked_back(vocabulary, question, needle):
    result = _plan(vocabulary, question)
    assert result.status in ("clarify", "unparsed") and needle in result.message, (result.status, result.message)


@pytest.mark.parametrize("vocabulary", corpus.VOCABULARIES)
def test_the_llm_prompt_lists_the_organizations_own_names(vocabulary):
    from zoneinfo import ZoneInfo

    from heliqa.agent.llm import render_prompt
    from heliqa.agent.planner import Context

    vocab = corpus.vocabulary(vocabulary)
    user = "bob" if vocabulary == "acme" else "user_0042"
    question = f"how many requests did {user} make by {next(iter(vocab.properties))}"
    text = render_prompt(Context(now=corpus.NOW, tz=ZoneInfo("UTC"), vocabulary=vocab), question=question)
    assert f'"{user}"' in text and all(f'- "{key}":' in text for key in vocab.properties)  # names as JSON strings
    other = corpus.vocabulary("sample" if vocabulary == "acme" else "acme")
    assert not any(f'- "{key}":' in text for key in other.properties)  # nothing of another organization's words


@pytest.mark.parametrize(
    "vocabulary,question,expected",
    [
        ("acme", "when did groq start failing",
         {"measure": "errors", "conditions": [_cond("provider", "equals", "GROQ")]}),
        ("sample", "where is the latency concentrated today", {"measure": "latency", "range": TODAY}),
        ("acme", "why did cost jump yesterday", {"measure": "cost", "range": YESTERDAY}),
    ],
)  # fmt: skip
def test_change_verbs_ask_for_an_explanation(vocabulary, question, expected):
    result = _plan(vocabulary, question)
    assert type(result.spec).__name__ == "ExplainSpec", (result.status, result.message)
    assert result.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True) == expected


def test_text_that_text2num_cannot_encode_is_left_as_it_is():
    assert spell_out_numbers("\ud800 twenty one") == "\ud800 twenty one"
