"""Building the spec: what the rules understood (`Parse`) becomes a `QuerySpec`, or edits the previous one for a
follow-up ("what about yesterday?")."""

from __future__ import annotations

import re

from heliqa.agent.planner import Context
from heliqa.agent.rules.measures import SUMMED_PER_REQUEST
from heliqa.agent.rules.table import Parse
from heliqa.agent.rules.words import FOLLOW_UP
from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import UNIT_DAYS, TimeRange
from heliqa.tools.errors import Clarify

COUNTED = ("requests", "errors", "error_rate", "users", "threats")  # measures that are counts, never aggregated
_LIST_VERB = re.compile(
    r"^\W*(?:(?:can|could|would)\s+you\s+)?(?:please\s+|pls\s+)?(?:show|list|display|give|pull|fetch|get|find|print|dump)\b",
    re.I,
)
_COUNT_CUE = re.compile(
    r"\b(?:how\s+many|number|count|counts|total|volume|traffic|rate|per|by|over\s+time|trend|daily|hourly|weekly|"
    r"monthly|breakdown|chart|graph|plot|sum|much)\b",
    re.I,
)


def asks_for_rows(question: str, spec: QuerySpec) -> bool:
    """`show me the failed requests`: a list of requests, which this planner does not answer with a count."""
    return (
        spec.measure in ("requests", "errors")
        and spec.groupBy is None
        and spec.bucket is None
        and bool(_LIST_VERB.search(question))
        and not _COUNT_CUE.search(question)
    )


def build(p: Parse, question: str, ctx: Context) -> QuerySpec | None:
    """Turn a Parse into a QuerySpec, editing the previous query for follow-ups; None when nothing is measured."""
    previous = ctx.previous
    is_follow_up = previous is not None and (p.measure is None or bool(FOLLOW_UP.search(question.lower())))
    if p.measure is None and not is_follow_up:
        return None
    if p.measure == "score" and re.search(r"\bhow\s+many\b|\bnumber\s+of\b|\bcount\b", question, re.I):
        raise Clarify(
            "Scores are averaged, not counted: ask for the score (e.g. 'thumbs-up rate', 'average <key> score'), "
            "or for the number of requests."
        )
    if is_follow_up:
        return _edit(previous, p)
    return _spec(p, p.measure, p.conditions)


def _aggregation(p: Parse, measure: str) -> str | None:
    aggregation = p.aggregation
    if (
        p.per_request
        and aggregation is None
        and not (p.extreme and p.group is None)  # "highest cost per request": the largest single value
        and measure in SUMMED_PER_REQUEST
    ):
        aggregation = "avg"
    if measure in COUNTED and aggregation not in (None, "sum"):
        raise Clarify(
            f"{measure.replace('_', ' ')} is a count; I can't take its {aggregation}. "
            f"Try '{measure.replace('_', ' ')} per day' to see it over time."
        )
    if measure in COUNTED:
        return None
    if aggregation is None and p.extreme and p.group is None and measure != "score":
        return p.extreme  # "highest latency for gpt-4": the largest single value
    return aggregation


def _group(p: Parse, measure: str) -> str | None:
    group = p.group
    if group == "score_key" and measure != "score":
        raise Clarify(
            "Only scores can be grouped by score key; group by model, provider, user, status, country "
            "or a property instead."
        )
    if group == "user" and measure == "users":
        group = None
    if p.top is not None and group is None:
        raise Clarify(f"Top {p.top} of what? Say which groups to rank, e.g. 'top {p.top} models by cost'.")
    return group


def _spec(p: Parse, measure: str, conditions: list[Condition]) -> QuerySpec:
    aggregation = _aggregation(p, measure)
    bucket = p.bucket
    if bucket is None and p.over_time:
        bucket = auto_bucket(p.range)
    group = _group(p, measure)
    conditions = list({c.model_dump_json(): c for c in conditions}.values())  # "rate limited? 429s": one filter
    bottom = p.rank == "bottom" and group is not None and p.top is not None
    if bottom and bucket is not None:
        raise Clarify("I can rank the lowest groups over the whole range, not per time bucket; drop the bucket.")
    return QuerySpec(
        measure=measure,
        aggregation=aggregation,
        scoreKey=p.score_key if measure == "score" else None,
        groupBy=group,
        top=p.top if group else None,
        bottom=bottom,
        bucket=bucket,
        range=p.range,
        conditions=conditions,
        timeZone=p.zone,
    )


def _edit(previous: QuerySpec, p: Parse) -> QuerySpec:
    """A follow-up: keep the previous query and change only what the new words say."""
    fields_new = {c.field for c in p.conditions}
    kept = [c for c in previous.conditions if c.field not in fields_new and c.field not in p.lifted]
    if p.group is not None and p.group != previous.groupBy:  # "per model" after "for gpt-4": every model
        kept = [c for c in kept if not (c.field == p.group and c.op == "equals")]
    base = Parse(
        measure=p.measure or previous.measure,
        aggregation=p.aggregation or (previous.aggregation if p.measure in (None, previous.measure) else None),
        score_key=p.score_key or (previous.scoreKey if p.measure in (None, "score") else None),
        group=p.group or previous.groupBy,
        top=p.top or previous.top,
        rank=p.rank or ("bottom" if previous.bottom else None),
        bucket=p.bucket or previous.bucket,
        over_time=p.over_time,
        range=p.range or previous.range,
        zone=p.zone or previous.timeZone,
        per_request=p.per_request,
    )
    if p.bucket is None and p.group is not None and previous.bucket and p.group != previous.groupBy:
        base.bucket = previous.bucket
    return _spec(base, base.measure, kept + p.conditions)


def auto_bucket(rng: TimeRange | None) -> str:
    """The bucket of a series whose question names none ("cost over time"): hours for a day, days, then weeks."""
    if rng is None or (rng.kind == "last" and rng.unit in ("minutes", "hours") and (rng.n or 0) <= 48):
        return "hour"
    if rng.kind in ("today", "yesterday", "day", "between"):
        return "hour"
    if rng.kind == "last" and rng.unit in ("months", "years") and (rng.n or 0) * UNIT_DAYS[rng.unit] > 90:
        return "week"
    return "day"
