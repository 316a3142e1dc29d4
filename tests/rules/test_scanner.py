"""The scanner (agent/rules/scanner.py): normalisation, quotes kept byte for byte, whole-word names, leftovers."""

from __future__ import annotations

from heliqa.agent.rules.scanner import Scanner, hide_quotes, normalise, unhide


def test_quotes_are_hidden_from_the_rules_and_put_back_byte_for_byte():
    text, quotes = hide_quotes('requests mentioning "Password Reset" or ‘Refund’')
    assert quotes == ["Password Reset", "Refund"]
    assert "Password" not in text and unhide(text, quotes).count("Password Reset") == 1


def test_normalise_evens_out_case_numbers_shorthand_and_punctuation():
    text, quotes = normalise("Top five users w/o staging, by cost?")
    assert text.split() == ["top", "5", "users", "without", "staging", "by", "cost"]
    assert quotes == []
    assert normalise("quick one: cost")[0].split() == ["quick", "one:", "cost"]  # "one" before a colon stays a word


def test_take_blanks_what_it_understood_and_records_the_rule():
    s = Scanner(" cost by model today ")
    s.rule = "bucket"
    assert [m.group(0) for m in s.take(r"today")] == ["today"]
    assert s.leftovers() == ["cost", "model"] and s.fired == ["bucket"]


def test_names_match_whole_word_runs_only():
    s = Scanner(" latency for xgpt-4 and gpt-4 and my model ")
    seen = []
    s.take_names({"gpt-4": "gpt-4", "my model": "My Model"}, lambda v, a, b: seen.append(v) or (a, b), 2)
    assert seen == ["gpt-4", "My Model"]
    assert "xgpt-4" in s.leftovers()
