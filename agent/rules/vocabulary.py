"""Words derived from the organization's vocabulary: the names index, property key words, grouping words.

Each is built once per vocabulary object (a process sees few), so a question does not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heliqa.agent.rules.words import FILLER, GROUP_WORDS, SYNONYM_VALUES
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary


@dataclass
class NamesIndex:
    """The organization's names keyed by their lower-cased words, for one dictionary look-up per word run."""

    models: dict[str, str]
    model_words: int
    values: dict[str, list[tuple[str, str]]]  # word run -> [(property key, recorded value)]
    value_words: int


_CACHE: dict[int, tuple[Vocabulary, dict[str, Any]]] = {}


def per_vocabulary(vocab: Vocabulary, name: str, build: Callable[[Vocabulary], Any]) -> Any:
    """`build(vocab)`, computed once per vocabulary object (a process sees few) so questions don't pay for it."""
    entry = _CACHE.get(id(vocab))
    if entry is None or entry[0] is not vocab:
        if len(_CACHE) > 16:
            _CACHE.clear()
        entry = _CACHE[id(vocab)] = (vocab, {})
    if name not in entry[1]:
        entry[1][name] = build(vocab)
    return entry[1][name]


def alternation(words: dict[str, Any] | set[str]) -> str:
    """A regex alternation of words, longest first (cached with the vocabulary by its callers)."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def names_index(vocab: Vocabulary) -> NamesIndex:
    """The index of `vocab`'s names, built once per vocabulary object."""
    return per_vocabulary(vocab, "index", _build_index)


def _build_index(vocab: Vocabulary) -> NamesIndex:
    models = {m.lower(): m for m in sorted(vocab.models, key=lambda m: -vocab.models[m])}
    values: dict[str, list[tuple[str, str]]] = {}
    for key, vals in vocab.properties.items():
        for value in vals:
            word = " ".join(value.lower().split())
            if word and word not in FILLER:  # a value spelled "the" is only read with its key ("team_ the")
                for form in (word, word + "s"):
                    values.setdefault(form, []).append((key, value))
        for short, long in SYNONYM_VALUES.items():
            if long in vals:
                values.setdefault(short, []).append((key, long))
    for form, hits in values.items():  # a value spelled exactly wins over another value's plural
        exact = [h for h in hits if h[1].lower() == form or SYNONYM_VALUES.get(form) == h[1]]
        values[form] = list(dict.fromkeys(exact or hits))
    return NamesIndex(
        models=models,
        model_words=max((len(m.split()) for m in models), default=1),
        values=values,
        value_words=min(4, max((len(v.split()) for v in values), default=1)),
    )


def property_key_words(vocab: Vocabulary) -> dict[str, str]:
    """Words naming a property key: the key, its spaced form, its last part (`tier` for customer_tier)."""
    return per_vocabulary(vocab, "key words", _property_key_words)


def _property_key_words(vocab: Vocabulary) -> dict[str, str]:
    keys = {k.lower(): k for k in vocab.properties}
    key_words: dict[str, str] = {}
    for k in vocab.properties:
        low = k.lower()
        for form in (low, low.replace("_", " "), low.replace("-", " "), low.split("_")[-1]):
            form = " ".join(form.split())
            if form and form not in FILLER:
                key_words.setdefault(form, k)
    for word, key in (("env", "environment"), ("tier", "customer_tier"), ("plan", "customer_tier")):
        if key in keys:
            key_words.setdefault(word, keys[key])
    return key_words


def rank_words(vocab: Vocabulary) -> dict[str, str]:
    """The grouping words that can be ranked (top N, superlatives): all but score keys."""
    return per_vocabulary(vocab, "rank words", lambda v: {w: g for w, g in group_words(v).items() if g != "score_key"})


def group_words(vocab: Vocabulary) -> dict[str, str]:
    """Every word that names a grouping: the fixed ones and each recorded property key (with its plural)."""
    return per_vocabulary(vocab, "group words", _group_words)


def _group_words(vocab: Vocabulary) -> dict[str, str]:
    words = dict(GROUP_WORDS)
    for form, key in property_key_words(vocab).items():
        if form not in ("plan", "tier") or key == "customer_tier":
            words.setdefault(form, f"property:{key}")
    for k in vocab.properties:
        if k.strip():
            words.setdefault(k.lower() + "s", f"property:{k}")
    return words


def property_value(key: str, word: str, vocab: Vocabulary) -> str:
    """The recorded value of property `key` that `word` names (case aside, or a synonym such as prod), or ask back."""
    values = vocab.properties.get(key, {})
    for value in values:
        if value.lower() == word.lower() or value == SYNONYM_VALUES.get(word.lower()):
            return value
    raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {', '.join(values)}.")
