"""Names family, properties: "region = eu-west", "team growth", a recorded value by itself in any spelling
("docs qa"), a value nobody recorded before a key word (asked back), and values side by side."""

from __future__ import annotations

import re

from heliqa.agent.rules.scanner import Scanner, negation_before, widen
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.agent.rules.vocabulary import (
    alternation,
    is_value_of,
    names_index,
    per_vocabulary,
    property_key_words,
    property_value,
)
from heliqa.agent.rules.words import RESERVED
from heliqa.agent.spec import Condition
from heliqa.prompts.lexicon import BLOCKING, SUPERLATIVES
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

Named = list[tuple[str, str, int]]  # (key, value, where) of every positive value named
_VALUE_NOUNS = {"customers", "customer", "users", "user", "traffic", "requests"}
# words that are never an unknown value before a key word ("which app", "slowest team", "by region")
_NOT_VALUES = frozenset(
    RESERVED | BLOCKING | set(SUPERLATIVES) | {"which", "what", "top", "bottom", "each", "every", "worst", "best"}
)


def _not_a_value(word: str) -> bool:
    return word.lower() in _NOT_VALUES or word.isdigit()


def _add(p: Parse, named: Named, key: str, value: str, negated: bool, at: int) -> None:
    p.conditions.append(Condition(field=f"property:{key}", op="not-equals" if negated else "equals", value=value))
    if not negated:
        named.append((key, value, at))


def _explicit(
    s: Scanner, p: Parse, vocab: Vocabulary, key_words: dict[str, str], key_alt: str, named: Named
) -> list[Condition]:
    """Reads "region = eu-west", "team is not growth", and a key word then a value ("team growth"); returns the
    positive ones, which a negated list read later may still take in (see `_negated_later`)."""
    positive: list[Condition] = []

    def explicit(m):
        key = key_words[m.group("k").lower()]
        before, start = negation_before(s, m.start())  # "excluding region = eu-west"
        if start < m.start():
            s.blank(start, m.start())
        negated = bool(m.group("neg")) != before
        _add(p, named, key, property_value(key, m.group("v"), vocab), negated, start)
        if not negated:
            positive.append(p.conditions[-1])

    s.take(
        rf"(?:where\s+|with\s+)?(?P<k>{key_alt})\s*(?:(?P<neg>!=|is\s+not|isn't)|=|:|is|equals|of)\s*(?P<v>[\w.-]+)",
        explicit,
    )

    def bare(m):
        word = m.group("v").lower()
        if _not_a_value(word):
            return False
        key = key_words[m.group("k").lower()]
        if not is_value_of(key, word, vocab) and word.isalpha():
            return False  # "the answer app hit": an ordinary word, not a value
        explicit(m)

    s.take(rf"(?<!by )(?<!per )(?<!each )(?P<k>{key_alt})\s+(?P<neg>)(?P<v>[\w.-]+)", bare)
    return positive


def _negated_later(s: Scanner, p: Parse, named: Named, positive: list[Condition]) -> None:
    """A "key = value" after a negated list read by the value rule is in that list ("excluding the care team and
    team = platform"): the explicit form is read first, so its negation is settled once the list has been read."""
    for condition in positive:
        at = next((a for k, v, a in named if f"property:{k}" == condition.field and v == condition.value), None)
        if at is None or not negation_before(s, at)[0]:
            continue
        p.conditions[p.conditions.index(condition)] = condition.model_copy(update={"op": "not-equals"})
        named[:] = [n for n in named if n[2] != at]


def _values(s: Scanner, p: Parse, vocab: Vocabulary, key_words: dict[str, str], key_alt: str, named: Named) -> None:
    """A recorded value by itself, with its key word before and nouns after it ("the umbrella customer requests")."""
    index = names_index(vocab)
    suffix = per_vocabulary(
        vocab,
        "value suffix alternation",
        lambda v: alternation(set(key_words) | {f"{k}s" for k in key_words} | _VALUE_NOUNS),  # "the x and y apps"
    )

    def value_named(hits, start, end):
        if len({key for key, _ in hits}) > 1:
            keys = ", ".join(sorted({key for key, _ in hits}))
            raise Clarify(f"'{s.original[start:end]}' is a value of several properties ({keys}); which one?")
        key, value = hits[0]
        start, end = widen(s, start, end, before=rf"(?:{key_alt})\s+" if key_alt else None)
        end = widen(s, start, end, after=rf"(?:\s+(?:{suffix})){{1,2}}")[1]
        negated, start = negation_before(s, start)
        consumed = s.original[start:end]
        asked_requests = re.search(r"\b(requests|calls|traffic)\b", s.original)
        if consumed.endswith(("users", "user")) and p.measure in (None, "requests") and not asked_requests:
            p.measure = "users"  # "how many globex users": people, not requests
        _add(p, named, key, value, negated, start)
        return start, end

    s.take_names(index.values, value_named, index.value_words)


def _unknown_value(s: Scanner, vocab: Vocabulary, key_words: dict[str, str], key_alt: str) -> None:
    def unknown_value(m):
        key = key_words[m.group("k").lower()]
        word = m.group("v")
        if _not_a_value(word):
            return False
        known = ", ".join(list(vocab.properties[key])[:20])
        raise Clarify(f"'{word}' is not a recorded value of {key}. Known values: {known}.")

    s.take(rf"(?:the\s+)?(?P<v>[\w.-]+)\s+(?P<k>{key_alt})(?!\s+(?:is|=)|[\w-])", unknown_value)


def _side_by_side(p: Parse, named: Named) -> None:
    """Several values of one key ("production vs staging"): compared side by side."""
    by_key: dict[str, list[tuple[str, int]]] = {}
    for key, value, at in named:
        by_key.setdefault(key, []).append((value, at))
    for key, hits in by_key.items():
        values = sorted({v for v, _ in hits})
        if len(values) > 1:
            field_name = f"property:{key}"
            p.conditions = [c for c in p.conditions if not (c.field == field_name and c.op == "equals")]
            p.conditions.append(Condition(field=field_name, op="in", value=values))
            p.alternatives[field_name] = [at for _, at in hits]


@rule(
    1200,
    "properties",
    {"cost for staging": {"conditions": [{"field": "property:environment", "op": "equals", "value": "staging"}]}},
)
def properties(s: Scanner, p: Parse, env: Env) -> None:
    """Property values: by key ("environment = staging"), by themselves ("staging"), or asked back when unknown."""
    key_words = property_key_words(env.vocab)
    key_alt = per_vocabulary(env.vocab, "key alternation", lambda v: alternation(key_words))
    named: Named = []
    positive = _explicit(s, p, env.vocab, key_words, key_alt, named) if key_alt else []
    _values(s, p, env.vocab, key_words, key_alt, named)
    _negated_later(s, p, named, positive)
    if key_alt:
        _unknown_value(s, env.vocab, key_words, key_alt)
    _side_by_side(p, named)
