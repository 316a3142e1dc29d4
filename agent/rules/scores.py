"""Scores family: user feedback, each recorded score key by its words ("tone", "resolved" for is_resolved),
and scores in general. A score is averaged, never counted."""

from __future__ import annotations

import re

from heliqa.agent.grounding import match_score_key
from heliqa.agent.rules.measures import set_measure
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import Env, Parse, rule
from heliqa.tools.errors import Clarify
from heliqa.tools.results import Vocabulary

FEEDBACK_KEY = "helicone-score-feedback"  # the key Helicone records user feedback under
_FEEDBACK = (
    r"(?:user\s+|end[\s-]user\s+|customer\s+)?(?:feedback|thumbs[\s-]?up|thumbs|positive\s+feedback|"
    r"share\s+of\s+positive\s+feedback|ratings?)(?:\s+(?:scores?|rates?|ratios?|share))?"
)


def _score_key(p: Parse, name: str, vocab: Vocabulary):
    def handle(m):
        found = match_score_key(name, vocab)
        if found is None:
            raise Clarify(f"No score '{name}' is recorded. Known score keys: {', '.join(vocab.score_keys) or 'none'}.")
        set_measure(p, "score")
        if p.score_key and p.score_key != found:
            raise Clarify("That question names two score keys; ask about one at a time (or 'scores' for all).")
        p.score_key = found

    return handle


def _key_words(stored: str) -> str:
    """The alternation naming a stored score key: itself, without its bool suffix, spaced, as an adjective."""
    base = stored.removesuffix("-hcone-bool")
    adjective = base.removeprefix("is_").removeprefix("is-")  # is_resolved -> "resolved", "resolvedness"
    extra = {re.escape(adjective), re.escape(adjective + "ness")} if adjective != base else set()
    words = extra | {
        re.escape(stored),
        re.escape(base),
        re.escape(base.replace("_", " ")),
        re.escape(base.replace("-", " ")),
    }
    return "|".join(sorted(words, key=len, reverse=True))


@rule(965, "feedback", {"thumbs up rate by model": {"measure": "score", "scoreKey": FEEDBACK_KEY, "groupBy": "model"}})
def feedback(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "feedback", "thumbs up rate", "ratings": the user feedback score."""
    s.take(_FEEDBACK, _score_key(p, FEEDBACK_KEY, env.vocab))


@rule(
    970,
    "score key",
    {"average helicone-score-feedback": {"measure": "score", "scoreKey": "helicone-score-feedback"}},
)
def score_key(s: Scanner, p: Parse, env: Env) -> None:
    """A recorded score key by its words: "tone", "groundedness score", "resolved rate"."""
    for stored in sorted(env.vocab.score_keys, key=len, reverse=True):
        s.take(
            rf"(?:{_key_words(stored)})(?:\s+(?:scores?|rates?|ratios?|share|values?|evals?))?",
            _score_key(p, stored, env.vocab),
        )


@rule(975, "any score", {"scores by day": {"measure": "score", "bucket": "day"}})
def any_score(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "scores", "evals", "quality": every score key."""
    s.take(r"(?:eval(?:uation)?\s+)?scores?|evals?(?:uations?)?|quality", lambda m: set_measure(p, "score"))
