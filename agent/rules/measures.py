"""Measures family: what is measured ("latency", "cost", "tokens", "error rate", "users", "requests"...).

A measure named twice is one measure when one of the words is the general one ("failed requests" is errors,
"requests by latency" is latency); two specific measures are asked back. Score words are in `scores.py`.
"""

from __future__ import annotations

import re

from heliqa.agent.rules.scanner import Scanner
from heliqa.agent.rules.table import UNPARSED, Env, Parse, rule
from heliqa.agent.spec import Condition
from heliqa.prompts.lexicon import MEASURE_OF_WORD
from heliqa.tools.errors import Clarify

# measures a general "requests" gives way to ("requests by latency", "p90 of requests")
_MORE_SPECIFIC = ("error_rate", "users", "threats", "latency", "cost", "ttft", "prompt_tokens")
_MORE_SPECIFIC += ("completion_tokens", "total_tokens", "score")
SUMMED_PER_REQUEST = ("latency", "ttft", "cost", "prompt_tokens", "completion_tokens", "total_tokens")


def set_measure(p: Parse, name: str) -> None:
    """Record the measure `name` names; settle it with one named before, or ask back for two."""
    name = " ".join(name.lower().split())
    name = MEASURE_OF_WORD.get(name, name)
    if p.measure and p.measure != name:
        if p.implied == "latency" and name == "ttft":  # "slowest provider by ttft": time to first token is a latency
            p.measure, p.implied = name, None
            return
        # "failed requests", "error count" and status words set requests first; the specific measure wins.
        if {p.measure, name} <= {"requests", "errors"}:
            p.measure = "errors"
            return
        if p.measure == "requests" and name in _MORE_SPECIFIC:
            p.measure = name
            return
        if name == "requests":
            return
        raise Clarify(
            f"That question asks about both {p.measure.replace('_', ' ')} and {name.replace('_', ' ')}; "
            "ask about one measure at a time."
        )
    p.measure = name


_SHARE_FAILED = (
    r"(?:what\s+|which\s+)?(?:%|percent|percentage|share|fraction|proportion|portion|part)\s+of\s+(?:the\s+|all\s+)?"
    r"(?P<x>\S.{0,80}?)\s+(?:(?:requests?|calls?|traffic|reqs)\s+)?(?:that\s+|which\s+)?(?:have\s+|has\s+)?"
    r"(?:failed|errored|erred|fail|error|failing|erroring|were\s+errors|were\s+failures|returned\s+(?:an\s+)?errors?)"
)


def _named(s: Scanner, p: Parse, pattern: str, measure: str) -> None:
    s.take(pattern, lambda m: set_measure(p, measure))


@rule(
    900,
    "error rate",
    {
        "error rate today": {"measure": "error_rate"},
        "share of requests that failed": {"measure": "error_rate"},
        "what % of gpt-4 requests failed": {
            "measure": "error_rate",
            "conditions": [{"field": "model", "op": "equals", "value": "gpt-4"}],
        },
    },
)
def error_rate(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "error rate", "failure ratio", "% of requests that failed", "what share of gpt-4 calls errored"."""

    def share(m):  # the error rate over the rows named between the share and the failure words
        s.blank(m.start(), m.start("x"))
        s.blank(m.end("x"), m.end())
        s.fired.append(s.rule)
        set_measure(p, "error_rate")
        return False

    s.take(_SHARE_FAILED, share)
    _named(
        s,
        p,
        r"(?:error|failure|fail|failed)[\s-]+(?:rates?|ratios?|percentages?|percent|share|%)|(?:share|percentage|percent|%|fraction)"
        r"\s+(?:of\s+)?(?:requests\s+)?(?:that\s+)?(?:failed|failing|errors?|erroring|failures)",
        "error_rate",
    )


@rule(
    905,
    "users with errors",
    {"users who hit errors": {"measure": "users", "conditions": [{"field": "status", "op": "gte", "value": 400}]}},
)
def users_with_errors(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "users who hit errors": the users among the failed requests, not two measures."""

    def handle(m):
        set_measure(p, "users")
        p.conditions.append(Condition(field="status", op="gte", value=400))

    s.take(
        r"(?:(?:number|count|how\s+many)\s+(?:of\s+)?)?(?:active\s+|unique\s+|distinct\s+)?users\s+"
        r"(?:(?:who|that)\s+)?(?:(?:were|have|had|got)\s+)?(?:with|hit|hitting|got|getting|saw|seeing|had|having|"
        r"experienced|experiencing|affected\s+by|impacted\s+by|encountered|facing)\s+(?:an?\s+|any\s+)?"
        r"(?:errors?|failures?|(?:failed|failing)\s+requests?)",
        handle,
    )


@rule(910, "time to first token", {"p50 time to first token": {"measure": "ttft", "aggregation": "p50"}})
def time_to_first_token(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "ttft", "time to first token", "first-token latency"."""
    _named(s, p, r"time[\s_]+to[\s_]+first[\s_]+tokens?|ttft|first[\s-]token\s+(?:latency|time)", "ttft")


@rule(915, "prompt tokens", {"input tokens by model": {"measure": "prompt_tokens", "groupBy": "model"}})
def prompt_tokens(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "prompt tokens", "input tokens"."""
    _named(s, p, r"(?:prompt|input)[\s_]+tokens?", "prompt_tokens")


@rule(920, "completion tokens", {"output tokens today": {"measure": "completion_tokens"}})
def completion_tokens(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "completion tokens", "output tokens", "generated tokens"."""
    _named(s, p, r"(?:completion|output|generated)[\s_]+tokens?", "completion_tokens")


@rule(925, "total tokens", {"token usage this week": {"measure": "total_tokens", "range": {"kind": "this_week"}}})
def total_tokens(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "tokens", "total tokens", "token usage", "usage"."""
    _named(s, p, r"(?:total[\s_]+)?tokens?(?:\s+usage|\s+used|\s+count)?|token\s+usage|usage", "total_tokens")


@rule(930, "unnamed threshold", {"how many slow requests today": UNPARSED})
def unnamed_threshold(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "slow requests", "expensive calls": requests past a threshold nobody named, asked back (not a latency)."""
    s.take(
        r"(?:slow|slower|fast|faster|expensive|cheap|long|big|large|heavy|costly)\s+(?:requests?|calls?)",
        lambda m: p.unresolved.append(m.group(0)),
    )


@rule(
    935,
    "latency",
    {
        "how slow was gpt-4 today": {"measure": "latency"},
        "response times by model": {"measure": "latency", "groupBy": "model"},
    },
)
def latency(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "latency", "duration", "response time", "how slow", "how long"."""
    _named(
        s,
        p,
        r"latency|latencies|duration|durations|response\s+times?|how\s+slow|slowness|slow|fast|speed|how\s+long",
        "latency",
    )


@rule(940, "cost", {"how much did we spend yesterday": {"measure": "cost", "range": {"kind": "yesterday"}}})
def cost(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "cost", "spend", "how much money", "$"."""
    _named(
        s,
        p,
        r"costs?|spends?|spending|spent|how\s+much\s+(?:money|did\s+we\s+spend)|money|expensive|dollars|usd|\$",
        "cost",
    )


@rule(945, "user count", {"how many unique users today": {"measure": "users", "range": {"kind": "today"}}})
def user_count(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "how many users", "active users", "dau"."""
    _named(
        s,
        p,
        r"(?:number|count|how\s+many)\s+(?:of\s+)?(?:active\s+|unique\s+|distinct\s+)?users|"
        r"(?:active|unique|distinct)\s+users|dau|mau",
        "users",
    )


@rule(950, "threats", {"prompt injections this week": {"measure": "threats"}})
def threats(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "threats", "prompt injections", "attacks"."""
    _named(s, p, r"threats?|prompt\s+injections?|injection\s+attempts?|attacks?", "threats")


@rule(
    955,
    "of failed requests",
    {"cost of failed requests": {"measure": "cost", "conditions": [{"field": "status", "op": "gte", "value": 400}]}},
)
def of_failed_requests(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "cost of failed requests": a measure over the failed rows, not a second measure."""

    def handle(m):
        if p.measure not in SUMMED_PER_REQUEST:
            return False
        p.conditions.append(Condition(field="status", op="gte", value=400))

    s.take(
        r"(?:of|for|on|from|across)\s+(?:the\s+|all\s+|our\s+)?(?:failed|failing|errored|erroring|unsuccessful)"
        r"\s+(?:requests?|calls?)|(?:of|for|on)\s+(?:the\s+)?(?:requests?|calls?)\s+(?:that|which)\s+(?:failed|errored)",
        handle,
    )


@rule(
    960,
    "errors",
    {
        "how many errors yesterday": {"measure": "errors"},
        "failed requests by model": {"measure": "errors", "groupBy": "model"},
    },
)
def errors(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "errors", "failures", "failed requests", "error count"."""
    _named(
        s,
        p,
        r"(?:error|failure)\s+counts?|(?:number|count|how\s+many)\s+(?:of\s+)?(?:errors|failures|failed\s+requests)|"
        r"errors|failures|failed(?:\s+requests?)?|failing(?:\s+requests?)?|erroring(?:\s+requests?)?|errored|error",
        "errors",
    )


@rule(
    980,
    "requests",
    {
        "how many requests yesterday": {"measure": "requests"},
        "traffic by provider": {"measure": "requests", "groupBy": "provider"},
    },
)
def requests(s: Scanner, p: Parse, env: Env) -> None:
    """Reads "requests", "how many", "traffic", "volume", "calls"."""
    _named(
        s,
        p,
        r"(?:how\s+many|number\s+of|count\s+of)(?:\s+(?:requests|reqs|calls|llm\s+calls|api\s+calls))?|requests|reqs|"
        r"request\s+count|request\s+volume|traffic|volume|throughput|calls|usage\s+count",
        "requests",
    )


@rule(1700, "users measure", {"users yesterday": {"measure": "users", "range": {"kind": "yesterday"}}})
def users_measure(s: Scanner, p: Parse, env: Env) -> None:
    """A bare "users" is the measure only when nothing more specific claimed the word."""

    def handle(m):
        first = re.search(r"\b(?:requests|calls|traffic|users)\b", s.original)
        if p.measure == "requests" and first and first.group(0) != "users":
            return  # "requests for users other than bob": the requests are counted
        set_measure(p, "users")

    s.take(r"(?<!by )(?<!per )(?<!each )(?<!every )(?<!across )users", handle)
