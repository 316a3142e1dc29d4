"""The requests heliqa runs: Helicone's scores request body and the extended query built on it."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heliqa.tools.filters import FilterNode, Number, Text, parse_instant
from heliqa.tools.limits import instant_problem

Increment = Literal["min", "hour", "day", "week", "month", "year"]
INCREMENTS: tuple[str, ...] = ("min", "hour", "day", "week", "month", "year")

_STRICT = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class TimeFilter(BaseModel):
    """`{start, end}` as ISO instants; start <= end (Helicone answers 'Invalid time filter' otherwise)."""

    model_config = _STRICT
    start: Text
    end: Text

    @field_validator("start", "end")
    @classmethod
    def _iso(cls, value: str) -> str:
        problem = instant_problem(parse_instant(value))
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> TimeFilter:
        if parse_instant(self.start) > parse_instant(self.end):
            raise ValueError(f"start {self.start} is after end {self.end} (Helicone: Invalid time filter)")
        return self


class HalfOpenTimeFilter(TimeFilter):
    """A range whose end instant is excluded: a comparison's previous period, an explanation's baseline."""


def _tz_difference(value: float) -> float:
    if math.isnan(value) or not -1440 <= value <= 1440:
        raise ValueError("timeZoneDifference is minutes UTC minus local time, between -1440 and 1440")
    return value


class ScoresRequest(BaseModel):
    """Body of `POST /v1/dashboard/scores/query`, as tsoa validates it."""

    model_config = _STRICT
    timeFilter: TimeFilter
    userFilter: FilterNode
    dbIncrement: Increment
    timeZoneDifference: Number

    _tz = field_validator("timeZoneDifference")(classmethod(lambda cls, v: _tz_difference(v)))

    def to_json(self) -> dict[str, Any]:
        """The exact JSON body Helicone accepts."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ScoreRow(BaseModel):
    """One row of the scores endpoint's answer."""

    created_at_trunc: str
    score_key: str
    score_sum: float


MEASURES: dict[str, str] = {
    "latency": "latency in ms",
    "ttft": "time to first token in ms (rows without one are ignored)",
    "prompt_tokens": "prompt tokens",
    "completion_tokens": "completion tokens",
    "total_tokens": "total tokens",
    "cost": "cost in USD",
    "requests": "number of requests",
    "errors": "number of requests with status >= 400",
    "error_rate": "100 x errors / requests (percent)",
    "users": "distinct non-empty user ids",
    "threats": "requests flagged as threats",
    "score": "average of a score key (all keys when scoreKey is null)",
}
Measure = Literal[
    "latency",
    "ttft",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost",
    "requests",
    "errors",
    "error_rate",
    "users",
    "threats",
    "score",
]
VALUE_MEASURES = ("latency", "ttft", "prompt_tokens", "completion_tokens", "total_tokens", "cost", "score")
COUNT_MEASURES = ("requests", "errors", "threats")
DEFAULT_AGGREGATION = {
    "latency": "avg",
    "ttft": "avg",
    "prompt_tokens": "sum",
    "completion_tokens": "sum",
    "total_tokens": "sum",
    "cost": "sum",
    "score": "avg",
}
GROUPS = ("model", "provider", "user", "status", "country", "score_key")
_AGG = re.compile(r"^(avg|sum|min|max|count|p(\d{1,2}(?:\.\d+)?|100))$")


class MetricsQuery(BaseModel):
    """The extended query: a measure, an aggregation, filters, grouping and buckets over one time range."""

    model_config = _STRICT
    measure: Measure = Field(description="; ".join(f"{k}: {v}" for k, v in MEASURES.items()))
    aggregation: str | None = Field(
        None, description="avg, sum, min, max, count, or a percentile pNN (p50 = median); null = the measure's default"
    )
    scoreKey: str | None = Field(
        None, description="score key for measure=score, e.g. accuracy or is_correct-hcone-bool"
    )
    groupBy: str | None = Field(
        None, description="model, provider, user, status, country, score_key, or property:<key> (e.g. property:feature)"
    )
    top: int | None = Field(None, ge=1, le=1000, description="keep the N largest groups")
    timeFilter: TimeFilter
    userFilter: FilterNode = "all"
    dbIncrement: Increment | None = Field(None, description="time bucket; null for one value per group")
    timeZoneDifference: Number = 0

    _tz = field_validator("timeZoneDifference")(classmethod(lambda cls, v: _tz_difference(v)))

    @field_validator("aggregation")
    @classmethod
    def _aggregation(cls, value: str | None) -> str | None:
        if value is None:
            return None
        text = value.strip().lower()
        text = {"median": "p50", "average": "avg", "mean": "avg", "total": "sum"}.get(text, text)
        if not _AGG.match(text):
            raise ValueError(f"'{value}' is not an aggregation; use avg, sum, min, max, count or a percentile like p90")
        return text

    @field_validator("groupBy")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value in GROUPS or (value.startswith("property:") and len(value) > len("property:")):
            return value
        raise ValueError(f"'{value}' is not a grouping; use one of {', '.join(GROUPS)} or property:<key>")

    @model_validator(mode="after")
    def _consistent(self) -> MetricsQuery:
        agg = self.aggregation
        if self.measure in COUNT_MEASURES + ("error_rate", "users") and agg not in (None, "count"):
            raise ValueError(f"{self.measure} is a count; aggregation must be null (not {agg})")
        if self.measure == "score" and agg not in (None, "avg", "min", "max") and not (agg or "").startswith("p"):
            raise ValueError(f"scores are averaged per key; aggregation {agg} does not apply")
        if self.scoreKey is not None and self.measure != "score":
            raise ValueError("scoreKey only applies to measure=score")
        if self.groupBy == "score_key" and self.measure != "score":
            raise ValueError("groupBy score_key only applies to measure=score")
        if self.top is not None and self.groupBy is None:
            raise ValueError("top needs a groupBy to rank groups")
        return self

    @property
    def agg(self) -> str | None:
        """The aggregation in force (the measure's default when none was given)."""
        if self.aggregation == "count" and self.measure not in VALUE_MEASURES:
            return None
        return self.aggregation or DEFAULT_AGGREGATION.get(self.measure)

    @property
    def group(self) -> str | None:
        """The grouping in force: score questions without a key are grouped by score key."""
        if self.measure == "score" and self.scoreKey is None and self.groupBy is None:
            return "score_key"
        return self.groupBy

    def to_json(self) -> dict[str, Any]:
        """The query as JSON (Helicone spellings in the filter tree)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def scores_request(self) -> ScoresRequest | None:
        """The equivalent Helicone scores request, when this query is exactly what that endpoint computes."""
        if self.measure != "score" or self.agg != "avg" or self.dbIncrement is None:
            return None
        if self.group != "score_key" or self.top is not None:
            return None
        return ScoresRequest(
            timeFilter=self.timeFilter,
            userFilter=self.userFilter,
            dbIncrement=self.dbIncrement,
            timeZoneDifference=self.timeZoneDifference,
        )


def percentile_fraction(aggregation: str) -> float:
    """'p90' -> 0.9."""
    return float(aggregation[1:]) / 100.0
