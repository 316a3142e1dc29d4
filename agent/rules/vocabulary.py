"""Words derived from the organization's vocabulary: the names index, property key words, grouping words.

Each is built once per vocabulary object (a process sees few), so a question does not pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from heliqa.agent import orgwords
from heliqa.agent.rules.words import FILLER, GROUP_WORDS, RESERVED
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary


@dataclass
class NamesIndex:
    """The organization's names keyed by their lower-cased words, for one dictionary look-up per word run."""

    models: dict[str, str]
    model_words: int
    values: dict[str, list[tuple[str, str]]]  # word run -> [(property key, recorded value)]
    value_words: int
    users: dict[str, str]  # lower-cased user id -> user id, whatever its shape


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


def phrases(words) -> str:
    """A regex alternation of fixed phrases, longest first, any run of spaces between their words."""
    return "|".join(r"\s+".join(map(re.escape, w.split())) for w in sorted(words, key=len, reverse=True))


def names_index(vocab: Vocabulary) -> NamesIndex:
    """The index of `vocab`'s names, built once per vocabulary object."""
    return per_vocabulary(vocab, "index", _build_index)


def _build_index(vocab: Vocabulary) -> NamesIndex:
    models = {m.lower(): m for m in sorted(vocab.models, key=lambda m: -vocab.models[m])}
    values = orgwords.value_words(vocab, skip=FILLER)
    return NamesIndex(
        models=models,
        model_words=max((len(m.split()) for m in models), default=1),
        values=values,
        value_words=min(4, max((len(v.split()) for v in values), default=1)),
        users=orgwords.user_words(vocab),
    )


def property_key_words(vocab: Vocabulary) -> dict[str, str]:
    """Words naming a property key: each spelling of the key, and the last part of a longer key where unique."""
    return per_vocabulary(vocab, "key words", _property_key_words)


def _property_key_words(vocab: Vocabulary) -> dict[str, str]:
    return orgwords.key_words(vocab, reserved=RESERVED)


def rank_words(vocab: Vocabulary) -> dict[str, str]:
    """The grouping words that can be ranked (top N, superlatives): all but score keys."""
    return per_vocabulary(vocab, "rank words", lambda v: {w: g for w, g in group_words(v).items() if g != "score_key"})


def rank_alternation(vocab: Vocabulary) -> tuple[dict[str, str], str]:
    """The rankable grouping words and their regex alternation (cached with the vocabulary)."""
    words = rank_words(vocab)
    return words, per_vocabulary(vocab, "rank alternation", lambda v: alternation(words))


def group_words(vocab: Vocabulary) -> dict[str, str]:
    """Every word that names a grouping: the organization's keys (every spelling) first, then the built-in words."""
    return per_vocabulary(vocab, "group words", _group_words)


def _group_words(vocab: Vocabulary) -> dict[str, str]:
    return orgwords.group_words(vocab, GROUP_WORDS, RESERVED)


def is_value_of(key: str, word: str, vocab: Vocabulary) -> bool:
    """Whether `word` spells one of the key's recorded values (or a short form of one, such as prod)."""
    return any(k == key for k, _ in names_index(vocab).values.get(" ".join(word.lower().split()), ()))


def property_value(key: str, word: str, vocab: Vocabulary) -> str:
    """The recorded value of property `key` that `word` names (any spelling, or a short form), or ask back."""
    low = " ".join(word.lower().split())
    for k, value in names_index(vocab).values.get(low, ()):
        if k == key:
            return value
    values = vocab.properties.get(key, {})
    for value in values:  # a value the index leaves out, such as one spelled "the", named after its key
        if value.lower() == low:
            return value
    raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {', '.join(list(values)[:20])}.")
