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
