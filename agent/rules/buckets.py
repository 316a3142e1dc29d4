"""Shape family, time buckets: "by day", "hourly", "day by day", "over time" (a series with a bucket that suits
the range), and "average daily cost" (which mean? asked back)."""

from __future__ import annotations

import re

from heliqa.agent.rules.groups import group, group_alternation
from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import CLARIFY, Env, Parse, rule
from heliqa.agent.rules.vocabulary import group_words, rank_alternation
from heliqa.agent.rules.words import BUCKETS
from heliqa.tools.errors import Clarify

_SUMMED = r"(?P<m>costs?|spend|spending|spent|(?:prompt\s+|completion\s+|total\s+)?tokens?|token\s+usage|usage)"
_MEAN = r"(?P<a>avg|average|mean|typical|median)"
_EVERY, _PER_UNIT = r"(?P<u>hourly|daily|weekly|monthly)", r"(?P<u>hour|day|week|month)"
# an average of a summed measure per time unit: the mean of the totals, which is not the per-request mean
_AVERAGE_OF_TOTALS = tuple(
    re.compile(rf"(?<![\w-]){form}(?![\w-])")
    for form in (
        rf"{_MEAN}\s+{_EVERY}\s+{_SUMMED}",
        rf"{_EVERY}\s+{_MEAN}\s+{_SUMMED}",
        rf"{_MEAN}\s+{_SUMMED}\s+(?:per|a|each)\s+{_PER_UNIT}",
        rf"{_MEAN}\s+{_SUMMED}\s+(?:per|a|each)\s+(?P<u>user|customer)",  # the mean spend per user
        # "how much did we spend per day on average", "tokens a day on average"
        rf"{_SUMMED}\s+(?:per|a|each)\s+{_PER_UNIT}\s+on\s+(?:an?\s+)?{_MEAN}",
        rf"{_SUMMED}\s+on\s+(?:an?\s+)?{_MEAN}\s+(?:per|a|each)\s+{_PER_UNIT}",
    )
)
_ADJECTIVE_UNITS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}


def set_bucket(p: Parse, word: str) -> None:
    """Record the bucket `word` names ("daily", "hours"); a second, different one is asked back."""
    word = word.lower()
    new = BUCKETS[word if word in BUCKETS else word.rstrip("s")]
    if p.bucket and p.bucket != new:
        raise Clarify("That question asks for two time buckets; pick one (hourly, daily, weekly...).")
    p.bucket = new


@rule(650, "repeated bucket", {"cost day by day this week": {"bucket": "day", "range": {"kind": "this_week"}}})
def repeated_bucket(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "day by day", "hour by hour"."""
    s.take(r"(?P<b>day|hour|week|month)\s+by\s+(?P=b)", lambda m: set_bucket(p, m.group("b")))


@rule(700, "average of totals", {"average daily cost this week": CLARIFY})
def average_of_totals(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "average daily cost", "avg tokens per day": the mean of daily totals, or a per-request mean? Asked back."""
    if ambiguous := next(filter(None, (re.search(form, s.text) for form in _AVERAGE_OF_TOTALS)), None):
        what = " ".join(ambiguous.group("m").split())
        unit = _ADJECTIVE_UNITS.get(*[ambiguous["u"]] * 2)
        mean = "median" if ambiguous.group("a") == "median" else "average"
        raise Clarify(
            f"Do you mean the total {what} per {unit}, or the {mean} {what} per request, {unit} by {unit}? "
            f"Ask '{what} per {unit}' or '{mean} {what} per request by {unit}'."
        )


@rule(710, "bucket adjective", {"hourly requests": {"bucket": "hour", "measure": "requests"}})
def bucket_adjective(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "hourly", "daily", "weekly"."""
    s.take(r"(?P<b>minutely|hourly|daily|weekly|monthly|yearly)", lambda m: set_bucket(p, m.group("b")))


def _names_a_key(env: Env, word: str) -> bool:
    """Whether a bucket word ("date", "day") is one of the organization's property keys, which come first."""
    return group_words(env.vocab).get(word.lower(), "").startswith("property:")


def _bucket(p: Parse, env: Env, m: re.Match) -> bool | None:
    if _names_a_key(env, m.group("w")):
        return False  # "by date" where the organization has a `date` key: that grouping
    set_bucket(p, m.group("b"))
    return None


@rule(720, "bucket by", {"cost by day": {"bucket": "day"}, "requests per hour": {"bucket": "hour"}})
def bucket_by(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "by day", "per hour", "each week", "broken down by month", "by date"."""
    s.take(
        r"(?:by|per|each|every|for\s+each|broken\s+down\s+by|grouped\s+by|split\s+by|bucketed\s+by|in)\s+(?:the\s+)?"
        r"(?P<w>(?P<b>minute|min|hour|day|date|week|month|year)s?)",
        lambda m: _bucket(p, env, m),
    )


_BUCKET_WORD = r"(?P<w>(?P<b>minute|min|hour|day|date|week|month)s?)"
_BOTH = r"\s*(?:,|&|\+|/|and)\s*(?:by\s+|per\s+)?(?:the\s+)?"


@rule(
    715,
    "group and bucket",
    {
        "cost by model and day last week": {"groupBy": "model", "bucket": "day", "range": {"kind": "last", "n": 7}},
        "requests per day and provider": {"groupBy": "provider", "bucket": "day"},
    },
)
def group_and_bucket(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "by model and day", "per hour and provider": one grouping and one time bucket (a series per group),
    never two groupings."""
    words, alt = group_alternation(env)

    def handle(m):
        if _names_a_key(env, m.group("w")):
            return False
        group(p, words, m)
        return _bucket(p, env, m)

    lead = r"(?:by|per|for\s+each|broken\s+down\s+by|grouped\s+by|split\s+by)\s+(?:the\s+|each\s+)?"
    s.take(rf"{lead}(?P<g>{alt}){_BOTH}{_BUCKET_WORD}", handle)
    s.take(rf"{lead}{_BUCKET_WORD}{_BOTH}(?P<g>{alt})", handle)


def _over_time(s: Scanner, p: Parse, m: re.Match) -> bool | None:
    """`how did X change` is a series; `what changed` asks for an explanation, which this planner leaves alone."""
    if m.group(0).lower().startswith("chang") and re.search(r"\bwhat(?:\s+has|\s+have)?\s*$", s.text[: m.start()]):
        return False
    p.over_time = True
    return None


@rule(730, "over time", {"cost over time this week": {"bucket": "day", "range": {"kind": "this_week"}}})
def over_time(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "over time", "trend", "how did latency change": a series, its bucket chosen from the range."""
    s.take(
        r"over\s+time|as\s+a\s+(?:time\s+)?series|trend(?:ing|s)?|chang(?:e|ed|ing)|evolv(?:e|ed|ing)|develop(?:ed)?",
        lambda m: _over_time(s, p, m),
    )


@rule(740, "across all", {"cost across all models": {"measure": "cost", "groupBy": None, "conditions": None}})
def across_all(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "across all models": everything, neither a filter nor a grouping (in a follow-up, the previous
    question's filter on models goes)."""
    words, alt = rank_alternation(env.vocab)  # every grouping word but score keys: what a filter can be on

    def handle(m: re.Match) -> None:
        if m.group("g"):
            p.lifted.append(words[m.group("g").lower()])

    s.take(rf"(?:across|for|over|of|from|on|in)?\s*(?:all|every|any)\s+(?:the\s+)?(?:(?P<g>{alt})|requests?)", handle)
    s.take(  # "drop the model filter", "without the region filter"
        rf"(?:drop|remove|delete|clear|lose|without|no)\s+(?:the\s+|that\s+|any\s+)?(?P<g>{alt})\s+(?:filter|condition)s?",
        handle,
    )
