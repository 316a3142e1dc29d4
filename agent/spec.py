"""The planners' output: a symbolic query (`QuerySpec`) that code turns into a validated `MetricsQuery`.

Both planners (rules and LLM) produce a QuerySpec; the LLM sees it as its tool schema. Time stays symbolic
(`TimeRange`), names are grounded against what exists, and only `to_query` builds Helicone's filter tree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heliqa.agent.timerange import DEFAULT_RANGE, TimeRange, resolve, zone
from heliqa.tools.errors import Clarify
from heliqa.tools.filters import all_of, any_of, leaf
from heliqa.tools.limits import MAX_BUCKETS, bucket_problem
from heliqa.tools.query import MEASURES, Increment, Measure, MetricsQuery, TimeFilter
from heliqa.tools.sql import MEASURE_COLUMNS
from heliqa.tools.timebuckets import bucket_count
from heliqa.tools.validation import validate

ConditionField = str  # model, provider, user, status, country, property:<key>, score:<key>, request_body, ...
Op = Literal["equals", "not-equals", "contains", "not-contains", "gte", "gt", "lte", "lt", "in"]

_SIMPLE_FIELDS = {
    "model": "model",
    "provider": "provider",
    "user": "user_id",
    "status": "status",
    "country": "country_code",
    "request_body": "request_body",
    "response_body": "response_body",
    "threat": "threat",
    **MEASURE_COLUMNS,  # latency, ttft, token counts and cost filter on the columns they measure
}
CONDITION_FIELDS = tuple(_SIMPLE_FIELDS) + ("property:<key>", "score:<key>")
_INCREMENTS: tuple[Increment, ...] = ("min", "hour", "day", "week", "month", "year")
INCREMENT_WORDS = {"min": "minute", "hour": "hour", "day": "day", "week": "week", "month": "month", "year": "year"}


class Condition(BaseModel):
    """One filter condition; conditions in a QuerySpec are all required (AND)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    field: ConditionField = Field(description="one of: " + ", ".join(CONDITION_FIELDS))
    op: Op = Field(description="equals, not-equals, contains, not-contains, gte, gt, lte, lt, or in (any of a list)")
    value: str | float | int | bool | list[str] = Field(description="the operand; a list of strings for op=in")

    @field_validator("field")
    @classmethod
    def _known(cls, value: str) -> str:
        if value in _SIMPLE_FIELDS or (
            value.split(":", 1)[0] in ("property", "score") and ":" in value and value.split(":", 1)[1]
        ):
            return value
        raise ValueError(f"'{value}' is not a filter field; use one of {', '.join(CONDITION_FIELDS)}")

    def describe(self) -> str:
        """`model = gpt-4`, `latency > 10000`, `request_body contains "refund"`."""
        name = self.field.split(":", 1)[1] if ":" in self.field else self.field
        sym = {"equals": "=", "not-equals": "≠", "gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}.get(self.op, self.op)
        value = " | ".join(self.value) if isinstance(self.value, list) else self.value
        if self.op in ("contains", "not-contains"):
            value = f'"{value}"'
        elif isinstance(self.value, int | float) and not isinstance(self.value, bool):
            value = self.value_text()
        return f"{name} {sym} {value}"

    def value_text(self) -> str:
        """The operand with its unit, exactly as the filter compares it: `6,865 ms`, `$0.05`, `$0.002345678`."""
        if self.field in ("latency", "ttft") and isinstance(self.value, int | float):
            return f"{self.value:,.0f} ms" if float(self.value).is_integer() else f"{self.value:,} ms"
        if self.field == "cost" and isinstance(self.value, int | float):
            whole, _, cents = f"{self.value:,.9f}".rstrip("0").partition(".")  # costs are whole nano-dollars
            return f"${whole}.{cents.ljust(2, '0')}"
        return str(self.value)


class QuerySpec(BaseModel):
    """What was asked, symbolically: measure, aggregation, filters, grouping, bucket, and a time range."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    measure: Measure = Field(description="; ".join(f"{k}: {v}" for k, v in MEASURES.items()))
    aggregation: str | None = Field(None, description="avg, sum, min, max, count or pNN (p50 = median); null = default")
    scoreKey: str | None = Field(None, description="for measure=score: one score key; null = every key")
    groupBy: str | None = Field(None, description="model, provider, user, status, country, property:<key>")
    top: int | None = Field(None, ge=1, le=1000, description="keep the N largest groups; null = every group")
    bottom: bool = Field(False, description="with top: keep the N smallest groups instead of the largest")
    bucket: Increment | None = Field(None, description="min, hour, day, week, month; null = one value per group")
    range: TimeRange | None = Field(None, description="null = the last 24 hours")
    conditions: list[Condition] = Field(default_factory=list, description="filters, all required; [] for none")
    timeZone: str | None = Field(
        None, description="IANA zone named in the question ('in Los Angeles time'); null = asker's"
    )

    def zone(self, default: ZoneInfo) -> ZoneInfo:
        """The zone the question is answered in."""
        return zone(self.timeZone) if self.timeZone else default

    def to_query(self, now: datetime, tz: ZoneInfo) -> MetricsQuery:
        """Resolve the range and build Helicone's filter tree: the validated query that runs (or InvalidRequest)."""
        time_filter, tzd = resolve(self.range or DEFAULT_RANGE, now, self.zone(tz))
        if self.bucket is not None:
            check_bucket_cap(time_filter, self.bucket, tzd)
        return validate(
            MetricsQuery,
            {
                "measure": self.measure,
                "aggregation": self.aggregation,
                "scoreKey": self.scoreKey,
                "groupBy": self.groupBy,
                # the N smallest groups: every group runs and the answer keeps the smallest (answer.arrange)
                "top": None if self.bottom else self.top,
                "timeFilter": time_filter,
                "userFilter": all_of([condition_node(c) for c in self.conditions]),
                "dbIncrement": self.bucket,
                "timeZoneDifference": tzd,
            },
        )


class TooManyBuckets(Clarify):
    """A question whose range holds more time buckets than MAX_BUCKETS; the message suggests a coarser bucket."""


def check_bucket_cap(time_filter: TimeFilter, increment: Increment, tzd: float, coarser: bool = True) -> None:
    """Ask back rather than build more than MAX_BUCKETS buckets: the limit `heliqa query` and serve enforce.

    Without it "requests per minute over the last 90 days" filled ~130,000 buckets. `coarser` names the finest
    coarser bucket that fits (False when the bucket is not the asker's choice, as in an explanation).
    """
    problem = bucket_problem(bucket_count(time_filter, increment, tzd), increment)
    if problem is None:
        return
    fits = None
    if coarser:
        for other in _INCREMENTS[_INCREMENTS.index(increment) + 1 :]:
            if (n := bucket_count(time_filter, other, tzd)) <= MAX_BUCKETS:
                fits = f"ask by {INCREMENT_WORDS[other]} ({n:,} buckets) or over a shorter range"
                break
    raise TooManyBuckets(f"That needs too many time buckets: {problem}. Please {fits or 'ask over a shorter range'}.")


def condition_node(c: Condition):
    """One Condition as a Helicone filter node (an 'or' branch for op=in)."""
    if c.op == "in":
        values = c.value if isinstance(c.value, list) else [c.value]
        return any_of([condition_node(Condition(field=c.field, op="equals", value=v)) for v in values])
    if c.field.startswith("property:"):
        return leaf("properties", c.op, str(c.value), key=c.field.split(":", 1)[1])
    if c.field.startswith("score:"):
        value = str(int(c.value)) if not isinstance(c.value, str) else c.value
        return leaf("scores", c.op, value, key=c.field.split(":", 1)[1])
    field = _SIMPLE_FIELDS[c.field]
    value = c.value
    if field == "provider" and isinstance(value, str):
        value = value.upper()
    if field == "status" and isinstance(value, str) and value.isdigit():
        value = int(value)
    return leaf(field, c.op, value)
