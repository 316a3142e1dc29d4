"""Shape family, grouping: "by model", "per user", "which provider", and "A and B combined" (one number)."""

from __future__ import annotations

import re

from heliqa.agent.grounding import providers_of
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.agent.rules.vocabulary import alternation, group_words, per_vocabulary, phrases
from heliqa.prompts.lexicon import COMBINED_WORDS
from heliqa.tools.errors import Clarify

BEFORE_A_NAME = re.compile(
    r"(?:(?<![\w.-])(?:from|for|on|via|by|using|with|through|at|to|of|the|and|or|vs\.?|versus|than|not|except|"
    r"excluding|without)|[,&+])\s*$",
    re.I,
)
_AFTER_A_PROVIDER = re.compile(r"\s*(?:ai|provider|api|models?|requests?|calls|traffic|'s)(?![\w-])", re.I)
_LIST_JOINER = re.compile(r"(?<![\w.-])(?:and|or|vs\.?|versus|plus)(?![\w-])|[,&+]", re.I)
_COMBINED = phrases(COMBINED_WORDS)  # "A and B combined", "in total"
_TWO_GROUPS = "That question groups by two things; ask for one grouping at a time."


def _names_together(text: str, start: int, end: int) -> bool:
    """Whether `together` names the provider: it stands where a name does (after a preposition or a list joiner,
    before `ai`/`provider`/`requests`), or no list precedes it for it to combine ("requests from together")."""
    before = text[:start]
    return bool(BEFORE_A_NAME.search(before) or _AFTER_A_PROVIDER.match(text[end:]) or not _LIST_JOINER.search(before))


@rule(
    250,
    "combined",
    {
        "cost for gpt-4 and gpt-4o combined": {
            "conditions": [{"field": "model", "op": "in", "value": ["gpt-4", "gpt-4o"]}],
            "groupBy": None,
        }
    },
)
def combined(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "A and B combined", "in total", "altogether": one number, not one group each."""
    together_provider = any(pv.lower() == "together" for pv in providers_of(env.vocab))

    def handle(m):
        if together_provider and m.group(0).lower() == "together" and _names_together(s.text, m.start(), m.end()):
            return False  # the provider Together, left for the provider rule
        p.combined = True

    s.take(_COMBINED, handle)


def group(p: Parse, words: dict[str, str], m: re.Match) -> None:
    """Record the grouping `m` names (its `g`, and a `g2` joined to it); a second, different one is asked back."""
    new = words[m.group("g").lower()]
    if m.groupdict().get("g2") and words[m.group("g2").lower()] != new:  # "by model and provider"
        raise Clarify(_TWO_GROUPS)
    if p.group and p.group != new:
        raise Clarify(_TWO_GROUPS)
    p.group = new


def group_alternation(env: Env) -> tuple[dict[str, str], str]:
    """The grouping words of the organization and their regex alternation (cached with the vocabulary)."""
    words = group_words(env.vocab)
    return words, per_vocabulary(env.vocab, "group alternation", lambda v: alternation(words))


@rule(
    1300, "group by", {"cost by model": {"groupBy": "model"}, "errors broken down by provider": {"groupBy": "provider"}}
)
def group_by(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "by model", "per user", "for each provider", "broken down by region"."""
    words, alt = group_alternation(env)
    s.take(
        r"(?:(?:broken\s+down|break\s+(?:it\s+|that\s+|this\s+)?down|grouped|split|bucketed|segmented|sliced)\s+)?"
        r"(?:by|per|for\s+each|for\s+every|each|every|across|among)\s+"
        rf"(?:the\s+|each\s+|every\s+)?(?P<g>{alt})(?:(?:\s*(?:,|&|\+|/|and|or)\s*|\s+)(?P<g2>{alt}))?",
        lambda m: group(p, words, m),
    )


@rule(1310, "which group", {"which models had errors": {"groupBy": "model", "measure": "errors"}})
def which_group(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "which model", "what providers": grouped by it (plural: several may be ranked)."""
    words, alt = group_alternation(env)

    def handle(m):
        group(p, words, m)
        p.plural = m.group("g").lower().endswith("s") and m.group("g").lower() != "status"

    s.take(rf"(?:which|what)\s+(?P<g>{alt})", handle)
