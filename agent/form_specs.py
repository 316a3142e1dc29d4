"""The specs of the three question forms beside the aggregate: compare two periods, list requests, explain a change.

Each is what a planner produces (the rules through `agent/forms.py`, or the LLM's form tools), with `to_query`,
which resolves time in code and returns the validated query that runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from heliqa.agent.spec import Condition, QuerySpec, check_bucket_cap, condition_node
from heliqa.agent.timerange import DEFAULT_RANGE, MONTH_DAYS, UNIT_DAYS, TimeRange, Unit, resolve
from heliqa.agent.timerange import zone as named_zone
from heliqa.tools.errors import Clarify
from heliqa.tools.filters import all_of, parse_instant
from heliqa.tools.investigate import (
    BASELINE_DAYS,
    CompareQuery,
    ExplainMeasure,
    ExplainQuery,
    ListOrder,
    ListQuery,
    ScoreBelow,
)
from heliqa.tools.query import HalfOpenTimeFilter
from heliqa.tools.results import Vocabulary, iso_z
from heliqa.tools.validation import validate

_FROZEN = ConfigDict(extra="forbid", frozen=True)
DIMENSIONS = ("model", "provider", "user", "status", "country")
AUTO_MEASURES = [("latency", None), ("errors", None), ("cost", None)]  # tried when the question names no measure
MAX_AUTO_SCORES = 6


def _days(n: int, unit: str) -> timedelta:
    return timedelta(days=n * UNIT_DAYS[unit])


class CompareSpec(BaseModel):
    """One aggregate over the current range and the previous one: shifted back by a unit, or by the range's length."""

    model_config = _FROZEN
    form: Literal["compare"] = "compare"
    query: QuerySpec
    shiftN: int | None = Field(None, ge=1, le=10_000, description="shift back this many units; null = range length")
    shiftUnit: Unit | None = Field(None, description=f"the shift's unit (a month is {MONTH_DAYS} days)")
    endsAtStart: bool = Field(
        False,
        description="the words named the span before the range ('vs the hour before'): when the shift is shorter "
        "than the range (shifting would overlap it), the previous period is that span, ending where the range starts",
    )

    def to_query(self, now: datetime, tz: ZoneInfo) -> CompareQuery:
        """Both periods, same filters, grouping and buckets; the previous one excludes its end instant."""
        current = self.query.to_query(now, tz)
        start, end = parse_instant(current.timeFilter.start), parse_instant(current.timeFilter.end)
        shift = _days(self.shiftN, self.shiftUnit) if self.shiftN and self.shiftUnit else end - start
        # "6 hours vs the hour before": the hour before the start, not the 6 hours one hour earlier (overlapping)
        previous_end = start if self.endsAtStart and shift < end - start else end - shift
        previous = current.model_copy(
            update={
                "timeFilter": HalfOpenTimeFilter(start=iso_z(start - shift, True), end=iso_z(previous_end, True)),
                "top": None,
            }
        )
        if previous.dbIncrement is not None:  # the same span, but its buckets may split one more time
            check_bucket_cap(previous.timeFilter, previous.dbIncrement, previous.timeZoneDifference)
        return CompareQuery(current=current, previous=previous)

    def shift_words(self) -> str:
        """'the previous 7 days', 'the same time 1 day earlier'."""
        if not (self.shiftN and self.shiftUnit):
            return "the previous period"
        unit = self.shiftUnit if self.shiftN != 1 else self.shiftUnit[:-1]
        if self.endsAtStart:
            return f"the {self.shiftN} {unit} before" if self.shiftN != 1 else f"the {unit} before"
        return f"{self.shiftN} {unit} earlier"


class ListSpec(BaseModel):
    """Individual requests matching the conditions, newest (or slowest, costliest, biggest) first."""

    model_config = _FROZEN
    form: Literal["list"] = "list"
    conditions: list[Condition] = Field(default_factory=list)
    range: TimeRange | None = Field(None, description="null = the last 24 hours")
    window: tuple[datetime, datetime] | None = Field(None, description="an exact UTC span (an explanation's window)")
    scoreBelow: ScoreBelow | None = None
    order: ListOrder = "newest"
    limit: int = Field(10, ge=1, le=100)
    timeZone: str | None = None

    def to_query(self, now: datetime, tz: ZoneInfo) -> ListQuery:
        """The validated list query."""
        zone = named_zone(self.timeZone) if self.timeZone else tz
        time_filter, tzd = resolve(self.range or DEFAULT_RANGE, now, zone)
        if self.window is not None:
            time_filter = HalfOpenTimeFilter(start=iso_z(self.window[0], True), end=iso_z(self.window[1], True))
        return ListQuery(
            timeFilter=time_filter,
            userFilter=all_of([condition_node(c) for c in self.conditions]),
            scoreBelow=self.scoreBelow,
            order=self.order,
            limit=self.limit,
            timeZoneDifference=tzd,
        )


class ExplainSpec(BaseModel):
    """When a measure departed from its 7-day baseline within a range, and what the departing requests hold."""

    model_config = _FROZEN
    form: Literal["explain"] = "explain"
    measure: ExplainMeasure | None = Field(None, description="null = whichever of latency, errors, cost moved most")
    scoreKey: str | None = None
    status: int | None = Field(None, description="for errors: the status named (429); null = any failure")
    conditions: list[Condition] = Field(default_factory=list)
    range: TimeRange | None = Field(None, description="null = the last 24 hours")
    timeZone: str | None = None
    # what an answer found, kept so that "show me those requests" lists the window's bad requests
    found: ListSpec | None = None

    def to_queries(self, now: datetime, tz: ZoneInfo, vocab: Vocabulary) -> list[ExplainQuery]:
        """One query per measure to try (one unless the question named none)."""
        zone = named_zone(self.timeZone) if self.timeZone else tz
        time_filter, tzd = resolve(self.range or DEFAULT_RANGE, now, zone)
        start, end = parse_instant(time_filter.start), parse_instant(time_filter.end)
        baseline = HalfOpenTimeFilter(start=iso_z(start - timedelta(days=BASELINE_DAYS), True), end=time_filter.start)
        increment = "hour" if end - start <= timedelta(days=3) else "day"
        # the series runs from the baseline's start to the range's end; its bucket is ours, so only the range can shrink
        check_bucket_cap(HalfOpenTimeFilter(start=baseline.start, end=time_filter.end), increment, tzd, coarser=False)
        fixed = {c.field for c in self.conditions if c.op in ("equals", "in")}
        queries = []
        tried = [(self.measure, self.scoreKey)] if self.measure else AUTO_MEASURES
        every_score = [("score", k) for k in list(vocab.score_keys)[:MAX_AUTO_SCORES]]
        if not self.measure:  # "what happened": every recorded score key too (a prompt change shows there)
            tried = tried + every_score
        elif self.measure == "score" and not self.scoreKey:  # "scores are down": whichever key fell most
            tried = every_score
        if not tried:
            raise Clarify("No score keys are recorded, so there is no score to explain.")
        for measure, score_key in tried:
            dims = [d for d in DIMENSIONS if d not in fixed and not (d == "status" and measure == "errors")]
            dims += [f"property:{k}" for k in vocab.properties if f"property:{k}" not in fixed]
            queries.append(
                validate(
                    ExplainQuery,
                    {
                        "measure": measure,
                        "scoreKey": score_key if measure == "score" else None,
                        "status": self.status if measure == "errors" else None,
                        "timeFilter": time_filter,
                        "baseline": baseline,
                        "userFilter": all_of([condition_node(c) for c in self.conditions]),
                        "dbIncrement": increment,
                        "timeZoneDifference": tzd,
                        "dimensions": tuple(dims),
                    },
                )
            )
        return queries


FormSpec = CompareSpec | ListSpec | ExplainSpec
