"""An incident's scope as a question's spec, so a reply in its Slack thread ("why?", "show me those requests",
"compare with last week") follows up on it as on any answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from heliqa.agent.spec import Condition, QuerySpec
from heliqa.agent.timerange import TimeRange, tz_difference, zone
from heliqa.tools.monitors import Monitor


def _condition(key: str, value: Any) -> Condition:
    """A monitor filter (`model`, `status`, `property.<key>`: a value or a list) as a spec condition."""
    field = f"property:{key.split('.', 1)[1]}" if key.startswith("property.") else key
    if isinstance(value, list):
        return Condition(field=field, op="in", value=[str(v) for v in value])
    return Condition(field=field, op="equals", value=int(value) if key == "status" else str(value))


def filter_conditions(filters: dict[str, Any]) -> list[Condition]:
    """A monitor's or a digest's filters as a question's conditions (all required)."""
    return [_condition(k, v) for k, v in filters.items()]


def incident_scope(m: Monitor, group: str | None, start: datetime, end: datetime) -> QuerySpec:
    """The monitor's measure over [start, end) (naive UTC) with its filters and, for one series of a split,
    that series' value: what the incident's post is about."""
    measure, aggregation = m.measure, m.agg
    if measure == "errors":
        measure, aggregation = ("error_rate" if aggregation == "rate" else "errors"), None
    elif measure == "requests":
        aggregation = None
    return QuerySpec(
        measure=measure,
        aggregation=aggregation,
        scoreKey=m.score_key if measure == "score" else None,
        range=TimeRange(kind="between", start=start, end=max(end, start)),
        conditions=[_condition(k, v) for k, v in m.series_filters(group)],
        timeZone="UTC",
    )


def in_zone(scope: QuerySpec, tz: str, now: datetime) -> QuerySpec:
    """The scope (its range naive UTC) asked in zone `tz` at `now` (aware): the same instants written as wall-clock
    times at the offset a range is resolved with (the one in force at `now`), so a follow-up's "yesterday", "the day
    before" and daily buckets are that zone's days while the incident's window stays exact."""
    rng = scope.range
    if rng is None or rng.kind != "between":
        return scope.model_copy(update={"timeZone": tz})
    shift = timedelta(minutes=-tz_difference(now, zone(tz)))
    local = TimeRange(kind="between", start=rng.start + shift, end=rng.end + shift)
    return scope.model_copy(update={"range": local, "timeZone": tz})
