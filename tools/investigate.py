"""Investigation queries beside the aggregate: a request list and an explanation of a change, compiled to SQL.

An explanation finds *when* a measure departed from its baseline and *what* the departing ("bad") requests
are concentrated in, BubbleUp-style: each dimension value's share of the bad requests in the window is set
against its share of all requests in the baseline (the 7 days before the range), ranked by how far the first is
above the second (current − baseline, the product's definition of a driver). Everything runs in the
engine's SQL: one statement for the thresholds, one for the bucketed series, and one grouped pass that counts
every dimension at once (GROUPING SETS), so 10M rows never become Python rows.

The window rule: per bucket, the measure's value is compared with the baseline buckets' median; a bucket
departs when it lies beyond median + 3·MAD (scaled to a standard deviation, 1.4826·MAD, and never less than
2% of the median or a unit floor, so a flat baseline does not turn noise into a window). The window is the contiguous
segment of buckets with the largest total of (departure − K/2 spreads), holding at least one bucket beyond K (a lone
bucket other than the range's last: beyond 2K).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from heliqa.tools.filters import FilterNode, Number, leaf, parse_instant
from heliqa.tools.query import MetricsQuery, TimeFilter
from heliqa.tools.results import iso_z
from heliqa.tools.sql import SqlDialect, seconds_utc

_STRICT = ConfigDict(extra="forbid", frozen=True)
ListOrder = Literal["newest", "latency", "cost", "tokens"]
ExplainMeasure = Literal["latency", "errors", "cost", "score"]
DEPARTURE_K = 3.0  # buckets beyond median + K·(1.4826·MAD) depart from the baseline
MIN_SCALE_SHARE = 0.02  # the spread is never taken as less than this share of the baseline median
# ... nor less than this (in the measure's unit): an error-free baseline turns single errors into no window
MIN_SCALE = {"latency": 1.0, "errors": 1.0, "cost": 1e-6, "score": 0.01}
SNIPPET_CHARS = 80
BASELINE_DAYS = 7
COARSE_BLOCKS = (3, 6)  # hours per block, tried in turn when the hourly series shows no window
MIN_SCORED = 30  # scored requests a score bucket should average over (fewer: buckets of COARSE_BLOCKS hours)
THIN_BLOCKS = (2, 3, 6)  # hours per block for a latency series too thin to judge hour by hour
THIN_ROWS = 20_000  # ... whose requests are then fetched one by one, at most this many
MIN_REQUESTS = 5  # a bucket with fewer requests says too little about a latency, a rate or an average score
# a value stands out when the bad requests hold at least 20 points more of it than the baseline, 1.5x as much, and
# more than chance would give them: 3 standard errors above its baseline share (ten bad requests prove little)
MIN_LIFT, MIN_RATIO, MIN_Z = 0.20, 1.5, 3.0
CHANCE = 1 - statistics.NormalDist().cdf(MIN_Z)  # the same bar as a tail probability (0.00135)


class ScoreBelow(BaseModel):
    """Requests carrying a score key with a value below a bound (Helicone's filters only test score equality)."""

    model_config = _STRICT
    key: str
    below: int

    def sql(self, d: SqlDialect) -> str:
        """The condition in `d`'s SQL."""
        key = d.param(self.key)
        return f"({d.has_score(key)} AND {d.score_value(key)} < {d.param(self.below, 'Int64')})"


class ListQuery(BaseModel):
    """Individual requests matching a filter over a time range, in one order, at most 100."""

    model_config = _STRICT
    timeFilter: TimeFilter
    userFilter: FilterNode = "all"
    scoreBelow: ScoreBelow | None = Field(None, description="only requests scored below a bound")
    order: ListOrder = Field("newest", description="newest first, or largest latency, cost or total tokens first")
    limit: int = Field(10, ge=1, le=100)
    timeZoneDifference: Number = 0

    def to_json(self) -> dict[str, Any]:
        """The query as JSON (Helicone spellings in the filter tree)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CompareQuery(BaseModel):
    """The same aggregate over the current range and the previous one (its end excluded)."""

    model_config = _STRICT
    current: MetricsQuery
    previous: MetricsQuery

    @model_validator(mode="after")
    def _same_query(self) -> CompareQuery:
        mine = self.current.model_dump(exclude={"timeFilter"})
        theirs = self.previous.model_dump(exclude={"timeFilter", "top"})
        if {k: v for k, v in mine.items() if k != "top"} != theirs:
            raise ValueError("both periods of a comparison must ask the same query")
        if parse_instant(self.previous.timeFilter.start) >= parse_instant(self.current.timeFilter.start):
            raise ValueError("the previous period must start before the current one")
        return self

    def to_json(self) -> dict[str, Any]:
        """Both periods' queries."""
        return {"current": self.current.to_json(), "previous": self.previous.to_json()}


class ExplainQuery(BaseModel):
    """Where a measure departed from its baseline within a range, and which dimension values the bad requests hold."""

    model_config = _STRICT
    measure: ExplainMeasure
    scoreKey: str | None = Field(None, description="the score key for measure=score")
    status: int | None = Field(None, description="for measure=errors: the status named (429); null = any >= 400")
    timeFilter: TimeFilter
    baseline: TimeFilter
    userFilter: FilterNode = "all"
    dbIncrement: Literal["hour", "day"] = "hour"
    timeZoneDifference: Number = 0
    dimensions: tuple[str, ...] = Field(description="model, provider, user, status, country, property:<key>")

    @model_validator(mode="after")
    def _consistent(self) -> ExplainQuery:
        if self.measure == "score" and not self.scoreKey:
            raise ValueError("explaining a score needs its key")
        if self.measure != "score" and self.scoreKey:
            raise ValueError("scoreKey only applies to measure=score")
        if self.status is not None and self.measure != "errors":
            raise ValueError("status only applies to measure=errors")
        if parse_instant(self.baseline.end) > parse_instant(self.timeFilter.start):
            raise ValueError("the baseline must end before the range starts")
        return self

    def to_json(self) -> dict[str, Any]:
        """The query as JSON."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class RequestRow:
    """One request of a list, with a short prompt snippet (never the whole body)."""

    request_id: str
    created_at: datetime
    model: str
    provider: str
    status: int
    latency_ms: int | None
    total_tokens: int | None
    cost: float | None
    user_id: str
    prompt: str = ""
    link: str = ""  # the request's page in Helicone's dashboard (Helicone backend only); not part of the data row

    def to_json(self) -> dict[str, Any]:
        """One listed request's row, its fields in the `--json` order."""
        return {
            "request_id": self.request_id,
            "created_at": iso_z(self.created_at, millis=True),
            "model": self.model,
            "provider": self.provider,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
            "user_id": self.user_id,
        }


@dataclass(frozen=True)
class Driver:
    """A dimension value the bad requests hold more of than the baseline did."""

    dimension: str
    value: str
    current: float  # share of the window's bad requests with this value
    baseline: float  # share of the baseline's requests with this value

    @property
    def lift(self) -> float:
        """How many points more of the bad requests than of the baseline this value holds."""
        return self.current - self.baseline

    def stands_out(self, bad_total: int, baseline_total: int) -> bool:
        """Far enough above the baseline share, and more than chance among `bad_total` bad requests: beyond MIN_Z
        standard errors and, as few bad requests need, by the exact binomial tail too (1 of 2 bad requests from a
        user who sent 3% of the baseline happens 6% of the time: no driver)."""
        share = max(self.baseline, 0.5 / max(baseline_total, 1))
        error = math.sqrt(share * (1 - min(share, 1.0)) / max(bad_total, 1))
        if not (self.lift >= MIN_LIFT and self.current >= MIN_RATIO * self.baseline and self.lift >= MIN_Z * error):
            return False
        held = round(self.current * bad_total)
        return share >= 1 or binomial_tail(held, bad_total, share) <= CHANCE

    def to_json(self) -> dict[str, Any]:
        """`{"dimension", "value", "current", "baseline", "share"}`; `share` is current − baseline."""
        return {
            "dimension": self.dimension,
            "value": self.value,
            "current": self.current,
            "baseline": self.baseline,
            "share": self.lift,
        }


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed from k until the terms vanish."""
    if k <= 0:
        return 1.0
    total, i = 0.0, k
    while i <= n:
        log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        term = math.exp(log_term + i * math.log(p) + (n - i) * math.log1p(-p))
        total += term
        if term < total * 1e-12:
            break
        i += 1
    return min(total, 1.0)


@dataclass(frozen=True)
class Point:
    """One bucket of the explained series; `in_range` separates the range from the baseline."""

    bucket: datetime
    value: float | None
    requests: int
    in_range: bool


@dataclass
class Explanation:
    """What an explain query found."""

    query: ExplainQuery
    series: list[Point]
    typical: float | None  # the baseline buckets' median
    threshold: float | None  # the value a bad request exceeds (or, for scores, falls below)
    bad_filter: Any  # the filter node that selects the bad requests (for "show me those requests")
    score_below: ScoreBelow | None  # for a score: the bad requests are those below this value
    window: tuple[datetime, datetime] | None = None
    window_value: float | None = None  # the window buckets' median value
    strength: float = 0.0  # total departure of the window, in spreads
    bad_in_window: int = 0
    drivers: list[Driver] = field(default_factory=list)
    coarse: bool = False  # the window was found only in blocks of several hours (a small, lasting shift)
    step: timedelta = timedelta(hours=1)  # the length of the series' buckets (what `typical` is "per")
    thin: list[Point] = field(default_factory=list)  # the window's buckets with fewer than MIN_REQUESTS requests
    impact: Impact | None = None  # the window against what the baseline predicts for the same span


@dataclass(frozen=True)
class Tally:
    """What one set of requests (all of them, or one dimension value's) did in the window and in the baseline."""

    bad: int = 0  # bad requests in the window
    requests: int = 0  # all requests in the window
    cost: float = 0.0  # USD spent in the window
    base_bad: int = 0  # bad requests in the baseline
    base_cost: float = 0.0  # USD spent in the baseline

    def excess(self, measure: str, scale: float) -> float:
        """The window's cost (for a cost) or bad requests beyond the baseline's, the baseline scaled by `scale`
        (the window's length over the baseline's)."""
        if measure == "cost":
            return self.cost - self.base_cost * scale
        return self.bad - self.base_bad * scale


@dataclass(frozen=True)
class Impact:
    """The window's total against what the baseline's average predicts over the same span, and the top driver's
    part of the difference (USD for a cost, requests otherwise)."""

    measure: str
    total: Tally
    scale: float  # the window's length over the baseline's
    driver: Tally | None = None

    @property
    def excess(self) -> float:
        """Extra cost (USD) or extra bad requests in the window."""
        return self.total.excess(self.measure, self.scale)

    @property
    def driver_excess(self) -> float | None:
        """The top driver's own excess, in the same unit."""
        return None if self.driver is None else self.driver.excess(self.measure, self.scale)

    def to_json(self) -> dict[str, Any]:
        """`{"unit", "window_total", "expected", "excess", "driver_excess", "bad_requests", "requests"}`."""
        cost = self.measure == "cost"
        total = self.total.cost if cost else self.total.bad
        expected = (self.total.base_cost if cost else self.total.base_bad) * self.scale
        return {
            "unit": "USD" if cost else "requests",
            "window_total": round(total, 6),
            "expected": round(expected, 6),
            "excess": round(self.excess, 6),
            "driver_excess": None if self.driver is None else round(self.driver_excess, 6),
            "bad_requests": self.total.bad,
            "requests": self.total.requests,
        }


@dataclass(frozen=True)
class ScoreShift:
    """One set of scored requests' average in a window against the same set's in the baseline: how far it fell, in
    standard errors of the baseline's per-request spread over both counts."""

    window_mean: float | None = None
    window_n: int = 0
    base_mean: float | None = None
    base_var: float | None = None  # the baseline's per-request sample variance
    base_n: int = 0

    @property
    def fall(self) -> float:
        """The baseline's average minus the window's (positive when the score fell)."""
        if self.window_mean is None or self.base_mean is None:
            return 0.0
        return self.base_mean - self.window_mean

    @property
    def error(self) -> float:
        """The standard error of `fall` (the baseline's spread, never under the score's unit floor)."""
        if not self.window_n or not self.base_n:
            return math.inf
        var = max(self.base_var or 0.0, MIN_SCALE["score"] ** 2)
        return math.sqrt(var / self.window_n + var / self.base_n)

    @property
    def z(self) -> float:
        """How many standard errors the score fell by."""
        return self.fall / self.error

    def beyond(self, rest: ScoreShift) -> float:
        """How many standard errors this set's fall exceeds `rest`'s (a fall shared by every request is not one
        set's)."""
        if math.isinf(self.error):
            return 0.0
        rest_error = 0.0 if math.isinf(rest.error) else rest.error
        return (self.fall - rest.fall) / math.hypot(self.error, rest_error)


@dataclass(frozen=True)
class Engine:
    """What the shared SQL needs from one backend: its dialect, its table, its fetch, its org scope."""

    dialect: Callable[[], SqlDialect]
    source: str  # the requests table, aliased r
    fetch: Callable[[str, dict[str, Any]], list[tuple]]
    scope: Callable[[SqlDialect, str], str]  # the organization condition
    nulls_in_grouping_sets: str = ""  # what makes the engine give NULL for columns outside a grouping set


# --- request lists ---------------------------------------------------------------------------------------------
_ORDER_COLUMNS = {"newest": "request_created_at", "latency": "latency", "cost": "cost", "tokens": "total_tokens"}


def list_requests(engine: Engine, query: ListQuery, org: str) -> list[RequestRow]:
    """The query's requests, largest first by its order, ties by request_id ascending."""
    d = engine.dialect()
    where = [engine.scope(d, org), d.time_range(query.timeFilter), d.node(query.userFilter)]
    if query.scoreBelow is not None:
        where.append(query.scoreBelow.sql(d))
    key = d.col(_ORDER_COLUMNS[query.order])
    rid = d.col("request_id")
    columns = [rid, "r.request_created_at", "r.model", "r.provider", "r.status", "r.latency", d.col("total_tokens")]
    columns += [d.cost_column(), d.col("user_id"), "r.request_body"]
    sql = (
        f"SELECT {', '.join(columns)} FROM {engine.source} WHERE {' AND '.join(where)} "
        f"ORDER BY {key} DESC NULLS LAST, {rid} ASC LIMIT {d.param(query.limit, 'Int64')}"
    )
    return [
        RequestRow(
            request_id=str(rid_value),
            created_at=_naive(created),
            model=model or "",
            provider=provider or "",
            status=int(status),
            latency_ms=None if latency is None else int(latency),
            total_tokens=None if tokens is None else int(tokens),
            cost=None if cost is None else int(cost) / 1e9,
            user_id=user or "",
            prompt=prompt_snippet(body or ""),
        )
        for rid_value, created, model, provider, status, latency, tokens, cost, user, body in engine.fetch(
            sql, d.params
        )
    ]


def prompt_snippet(body: str, limit: int = SNIPPET_CHARS) -> str:
    """The first `limit` characters of the last user message of a request body, on one line."""
    text = body
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        messages = payload.get("messages") or payload.get("contents") or []
        users = [m for m in messages if isinstance(m, dict) and m.get("role") in ("user", None)]
        if users:
            text = _message_text(users[-1])
        elif isinstance(payload.get("prompt"), str):
            text = payload["prompt"]
        elif isinstance(payload.get("input"), str):
            text = payload["input"]
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_text(message: dict) -> str:
    content = message.get("content", message.get("parts", ""))
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


# --- explanations ----------------------------------------------------------------------------------------------
def bad_filter(query: ExplainQuery, threshold: float | None) -> Any:
    """The filter node that makes a request bad for this measure ("all" for scores: see `score_below`)."""
    if query.measure == "errors":
        return leaf("status", "equals", query.status) if query.status is not None else leaf("status", "gte", 400)
    if threshold is None or query.measure == "score":
        return "all"
    if query.measure == "latency":
        return leaf("latency", "gt", math.floor(threshold))
    return leaf("cost", "gt", math.floor(threshold) / 1e9)


def score_below(query: ExplainQuery, threshold: float | None) -> ScoreBelow | None:
    """For a score: bad is below the baseline's p10 (integer scores: below its ceiling; a yes/no key at 0)."""
    if query.measure != "score" or threshold is None:
        return None
    return ScoreBelow(key=query.scoreKey, below=math.ceil(threshold))


def _bad_sql(d: SqlDialect, bad: Any, below: ScoreBelow | None) -> str:
    parts = [d.node(bad)] if bad != "all" else []
    if below is not None:
        parts.append(below.sql(d))
    return " AND ".join(parts) or "FALSE"


def _scope_sql(engine: Engine, d: SqlDialect, query: ExplainQuery, org: str) -> list[str]:
    """The organization and the question's filters; a score question counts only requests carrying the key."""
    where = [engine.scope(d, org), d.node(query.userFilter)]
    if query.measure == "score":
        where.append(d.has_score(d.param(query.scoreKey)))
    return where


def explain(engine: Engine, query: ExplainQuery, org: str) -> Explanation:
    """Thresholds, the bucketed series and the window, then every dimension's drivers in one grouped pass."""
    threshold = _threshold(engine, query, org)
    bad, below = bad_filter(query, threshold), score_below(query, threshold)
    series = _series(engine, query, org, bad)
    hourly, block = series, score_block_hours(query, series)
    if block > 1:
        series = merge_blocks(series, block, query.timeZoneDifference, summed=False)
    thin = _thin_latency_blocks(engine, query, org, series)
    if thin is not None:
        # a latency of a handful of requests an hour (one model's): judge the p90 of blocks that hold enough, and
        # keep the hours inside the edge blocks only while they run high
        block, series = thin
    found = Explanation(
        query=query, series=series, typical=None, threshold=threshold, bad_filter=bad, score_below=below
    )
    base = baseline_values(series, query.measure)
    if not base:
        return found
    found.typical = statistics.median(base)
    found.step = timedelta(hours=block) if block > 1 else _step(query)
    window = departure_window(query, series, found.typical, base, timedelta(hours=block) if block > 1 else None)
    if thin is not None and window is not None:
        window = (_trimmed(window[0], hourly, found.typical), *window[1:])
    if window is None and query.dbIncrement == "day":
        # a short incident vanishes in daily buckets: look at the range's hours before saying nothing changed
        hourly = query.model_copy(update={"dbIncrement": "hour"})
        hours = _series(engine, hourly, org, bad)
        hours_base = baseline_values(hours, query.measure)
        if hours_base:
            window = departure_window(hourly, hours, statistics.median(hours_base), hours_base)
            if window is not None:  # the answer then speaks in hours: its series and typical value too
                found.series, found.typical, found.step = hours, statistics.median(hours_base), timedelta(hours=1)
    elif window is not None and query.dbIncrement == "day":
        window = (_hours_within(engine, query, org, bad, window[0]), *window[1:])
    if window is None and query.dbIncrement == "hour" and query.measure != "latency":
        # a small lasting shift in a thin series (a score recorded on a few requests an hour) hides in hourly noise:
        # blocks of several hours average it out; a p90 does not merge from hours, so latency is left out
        for hours in (h for h in COARSE_BLOCKS if h > block):
            blocks = merge_blocks(found.series, hours, query.timeZoneDifference, summed=query.measure == "cost")
            blocks_base = baseline_values(blocks, query.measure)
            if blocks_base:
                typical = statistics.median(blocks_base)
                window = departure_window(query, blocks, typical, blocks_base, timedelta(hours=hours))
            if window is not None:
                found.series, found.typical, found.coarse = blocks, typical, True
                found.step = timedelta(hours=hours)
                break
    if window is None:
        return found
    found.window, found.window_value, found.strength = window
    found.thin = [p for p in window_buckets(found) if not judged(p, query.measure)]
    found.bad_in_window, found.drivers, found.impact = _drivers(engine, query, org, (bad, below), found.window)
    return found


def score_shift(
    engine: Engine, query: ExplainQuery, org: str, window: tuple[datetime, datetime], part: Any
) -> tuple[ScoreShift, ScoreShift]:
    """A score query's requests in `part` (a filter node) and the rest of them: each set's average score in
    `window` against its average, spread and count in the baseline (one grouped statement)."""
    d = engine.dialect()
    created = "r.request_created_at"
    w0, w1 = d.param(window[0], "DateTime"), d.param(window[1], "DateTime")
    in_window = f"{created} >= {w0} AND {created} < {w1}"
    value = f"CAST({d.score_value(d.param(query.scoreKey))} AS DOUBLE)"
    where = _scope_sql(engine, d, query, org) + [f"(({d.time_range(query.baseline)}) OR ({in_window}))"]
    sql = (
        f"SELECT {d.node(part)} AS mine, {in_window} AS w, avg({value}), {d.var_samp(value)}, count(*) "
        f"FROM {engine.source} WHERE {' AND '.join(where)} GROUP BY mine, w"
    )
    cells: dict[tuple[bool, bool], tuple[float | None, float | None, int]] = {}
    for mine, in_w, mean, var, n in engine.fetch(sql, d.params):
        cells[(bool(mine), bool(in_w))] = (_number(mean), _number(var), int(n))

    def shift(mine: bool) -> ScoreShift:
        w_mean, _, w_n = cells.get((mine, True), (None, None, 0))
        b_mean, b_var, b_n = cells.get((mine, False), (None, None, 0))
        return ScoreShift(w_mean, w_n, b_mean, b_var, b_n)

    return shift(True), shift(False)


def _number(v: Any) -> float | None:
    return None if v is None or math.isnan(float(v)) else float(v)


def _thin_latency_blocks(
    engine: Engine, query: ExplainQuery, org: str, series: list[Point]
) -> tuple[int, list[Point]] | None:
    """(hours per block, the p90 of each block) for an hourly latency series whose range averages fewer than
    MIN_REQUESTS requests an hour; None for any other series. A p90 does not merge from hours, so the few
    requests are fetched one by one (at most THIN_ROWS) and each block's p90 computed here, as the engines do
    (linear interpolation between the nearest ranks)."""
    if query.measure != "latency" or query.dbIncrement != "hour":
        return None
    span = seconds_utc(query.timeFilter.end) - seconds_utc(query.timeFilter.start)
    per_hour = sum(p.requests for p in series if p.in_range) / max(span / timedelta(hours=1), 1)
    hours = next((h for h in THIN_BLOCKS if per_hour * h >= MIN_REQUESTS), None)
    if per_hour >= MIN_REQUESTS or hours is None or sum(p.requests for p in series) > THIN_ROWS:
        return None
    d = engine.dialect()
    created = "r.request_created_at"
    start = d.param(seconds_utc(query.timeFilter.start), "DateTime")
    periods = f"(({d.time_range(query.baseline)}) OR ({d.time_range(query.timeFilter)}))"
    where = _scope_sql(engine, d, query, org) + [periods, f"{d.col('latency')} IS NOT NULL"]
    bucket = d.bucket(created, "hour", query.timeZoneDifference)
    sql = f"SELECT {bucket}, {created} >= {start}, {d.col('latency')} FROM {engine.source} WHERE {' AND '.join(where)}"
    blocks: dict[tuple[datetime, bool], list[float]] = {}
    for b, in_range, latency in engine.fetch(sql, d.params):
        moment = _naive(b)
        local_hour = (moment - timedelta(minutes=query.timeZoneDifference)).hour
        blocks.setdefault((moment - timedelta(hours=local_hour % hours), bool(in_range)), []).append(float(latency))
    points = [Point(key[0], _p90(values), len(values), key[1]) for key, values in sorted(blocks.items())]
    return hours, points


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    rank = 0.9 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _trimmed(window: tuple[datetime, datetime], hours: list[Point], typical: float) -> tuple[datetime, datetime]:
    """A window of blocks narrowed to its hours from the first to the last that ran above the typical block."""
    high = [p.bucket for p in hours if p.in_range and window[0] <= p.bucket < window[1] and (p.value or 0) > typical]
    if not high:
        return window
    return max(window[0], high[0]), min(window[1], high[-1] + timedelta(hours=1))


def window_buckets(found: Explanation) -> list[Point]:
    """The range's buckets of the series that overlap the window."""
    start, end = found.window
    return [p for p in found.series if p.in_range and p.bucket < end and p.bucket + found.step > start]


def _step(query: ExplainQuery) -> timedelta:
    return timedelta(hours=1) if query.dbIncrement == "hour" else timedelta(days=1)


def _hours_within(
    engine: Engine, query: ExplainQuery, org: str, bad: Any, days: tuple[datetime, datetime]
) -> tuple[datetime, datetime]:
    """A window found in daily buckets, narrowed to the hours that departed inside it (against the baseline's
    hours), so a two-hour storm in a week-long range is not reported as a whole day."""
    span = TimeFilter(start=iso_z(days[0], True), end=iso_z(days[1], True))
    hourly = query.model_copy(update={"dbIncrement": "hour", "timeFilter": span})
    series = _series(engine, hourly, org, bad)
    base = baseline_values(series, query.measure)
    if not base:
        return days
    narrowed = departure_window(hourly, series, statistics.median(base), base)
    return narrowed[0] if narrowed is not None else days


def _threshold(engine: Engine, query: ExplainQuery, org: str) -> float | None:
    if query.measure == "errors":
        return None
    d = engine.dialect()
    if query.measure == "score":
        column, fraction = d.score_value(d.param(query.scoreKey)), 0.1
    else:
        column, fraction = d.col("latency") if query.measure == "latency" else d.cost_column(), 0.9
    where = _scope_sql(engine, d, query, org) + [d.time_range(query.baseline)]
    sql = f"SELECT {d.quantile(column, fraction)} FROM {engine.source} WHERE {' AND '.join(where)}"
    rows = engine.fetch(sql, d.params)
    value = rows[0][0] if rows else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if query.measure == "score" and query.scoreKey.endswith("-hcone-bool"):
        return 1.0  # yes/no: bad is 0, whatever the baseline's p10
    return float(value)


def _value_sql(d: SqlDialect, query: ExplainQuery, bad: Any) -> str:
    if query.measure == "latency":
        return d.quantile(d.col("latency"), 0.9)
    if query.measure == "errors":
        return f"100.0 * {d.count_if(d.node(bad))} / count(*)"
    if query.measure == "cost":
        return f"sum({d.cost_column()}) / 1e9"
    return f"avg({d.score_value(d.param(query.scoreKey))})"


def _series(engine: Engine, query: ExplainQuery, org: str, bad: Any) -> list[Point]:
    d = engine.dialect()
    created = "r.request_created_at"
    start = d.param(seconds_utc(query.timeFilter.start), "DateTime")
    periods = f"(({d.time_range(query.baseline)}) OR ({d.time_range(query.timeFilter)}))"
    where = _scope_sql(engine, d, query, org) + [periods]
    bucket = d.bucket(created, query.dbIncrement, query.timeZoneDifference)
    value = _value_sql(d, query, bad)
    # A bucket cut by the range's start is split in two: its baseline part never counts as the range.
    sql = (
        f"SELECT {bucket} AS b, {created} >= {start} AS in_range, {value} AS v, count(*) AS n "
        f"FROM {engine.source} WHERE {' AND '.join(where)} GROUP BY b, in_range ORDER BY b, in_range"
    )
    points = []
    for b, in_range, v, n in engine.fetch(sql, d.params):
        number = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
        points.append(Point(_naive(b), number, int(n), bool(in_range)))
    if query.measure == "cost" and query.dbIncrement == "hour" and points:
        points = _with_empty_hours(points, seconds_utc(query.timeFilter.start), seconds_utc(query.timeFilter.end))
    return points


def _with_empty_hours(points: list[Point], start: datetime, end: datetime) -> list[Point]:
    """An hour without requests cost nothing: the hourly cost series with those hours as 0, so they count in the
    baseline's median and separate one spike from the next."""
    seen = {p.bucket for p in points}
    hour, step = points[0].bucket, timedelta(hours=1)
    filled = list(points)
    while hour < end:
        if hour not in seen:
            filled.append(Point(hour, 0.0, 0, hour >= start))
        hour += step
    return sorted(filled, key=lambda p: (p.bucket, p.in_range))


def judged(p: Point, measure: str) -> bool:
    """Whether a bucket holds enough requests to judge: a latency, a rate or an average over a few requests says
    little, but a cost is a sum, and a quiet hour's small sum is exactly what a spike is set against."""
    return p.value is not None and (measure == "cost" or p.requests >= MIN_REQUESTS)


def baseline_values(series: list[Point], measure: str = "") -> list[float]:
    """The baseline buckets' values, leaving out buckets too thin to judge."""
    return [p.value for p in series if not p.in_range and judged(p, measure)]


def score_block_hours(query: ExplainQuery, series: list[Point]) -> int:
    """Hours per bucket for an hourly score series: a score is recorded on a share of the requests, and an average
    of a handful of them is noise, so buckets grow until the baseline averages MIN_SCORED scored requests each."""
    if query.measure != "score" or query.dbIncrement != "hour":
        return 1
    span = seconds_utc(query.baseline.end) - seconds_utc(query.baseline.start)
    per_hour = sum(p.requests for p in series if not p.in_range) / max(span / timedelta(hours=1), 1)
    return next((h for h in (1, *COARSE_BLOCKS) if per_hour * h >= MIN_SCORED), COARSE_BLOCKS[-1])


def merge_blocks(series: list[Point], hours: int, tzd: float, summed: bool) -> list[Point]:
    """Hourly points merged into blocks of `hours` that start on local multiples of it, the range's and the
    baseline's parts kept apart: a sum (cost) adds up, a rate or an average is weighted by its requests."""
    merged: dict[tuple[datetime, bool], tuple[float, int, int]] = {}
    for p in series:
        local_hour = (p.bucket - timedelta(minutes=tzd)).hour
        key = (p.bucket - timedelta(hours=local_hour % hours), p.in_range)
        total, weight, requests = merged.get(key, (0.0, 0, 0))
        if p.value is not None:
            total, weight = total + p.value * (1 if summed else p.requests), weight + p.requests
        merged[key] = (total, weight, requests + p.requests)
    return [
        Point(bucket, None if not weight else total if summed else total / weight, requests, in_range)
        for (bucket, in_range), (total, weight, requests) in sorted(merged.items())
    ]


def bucket_spread(measure: str, typical: float, base: list[float]) -> float:
    """The spread a bucket's departure is counted in: 1.4826·MAD of the baseline buckets, never less than
    MIN_SCALE_SHARE of their median nor the measure's unit floor."""
    spread = 1.4826 * statistics.median(abs(v - typical) for v in base)
    spread = max(spread, MIN_SCALE_SHARE * abs(typical), MIN_SCALE[measure])
    if measure == "cost" and typical == 0:
        # most hours cost nothing (one user's spend): every paid hour would depart from a zero median, so an hour
        # departs only when it costs K times more than the average hour
        spread = max(spread, statistics.fmean(base))
    return spread


def departure_window(
    query: ExplainQuery, series: list[Point], typical: float, base: list[float], step: timedelta | None = None
) -> tuple[tuple[datetime, datetime], float, float] | None:
    """The strongest contiguous run of range buckets beyond the baseline's median + K·MAD: (window, value, strength).
    `step` is the buckets' length (default: the query's increment)."""
    spread = bucket_spread(query.measure, typical, base)
    down = query.measure == "score"  # a score breaks by falling
    step = step or _step(query)
    start, end = seconds_utc(query.timeFilter.start), seconds_utc(query.timeFilter.end)
    # The window is the segment of buckets with the largest total of (departure − K/2): a bucket beyond K/2
    # spreads adds to it, a quieter one costs, so a stretch of quiet hours ends an incident but one or two milder
    # hours inside a lasting shift (a bad prompt version lowering a noisy hourly score all day) do not split it.
    # The segment must hold a bucket beyond K (a lone bucket before the range's last: beyond 2K).
    best: tuple[float, list[Point]] = (0.0, [])

    def departure(p: Point) -> float | None:
        if p.value is None:
            return None
        # a rate moves by 100/n points with a single request: one failure in a quiet hour is not a departure
        scale = max(spread, 100.0 / max(p.requests, 1)) if query.measure == "errors" else spread
        return ((typical - p.value) if down else (p.value - typical)) / scale

    # buckets too thin to judge are skipped: they neither extend a segment nor break it
    judged_points = [
        (p, z) for p in series if p.in_range and judged(p, query.measure) and (z := departure(p)) is not None
    ]
    # Kadane's maximum-sum segment, keeping every segment that ends at a local maximum as a candidate
    run: list[tuple[Point, float]] = []
    total = 0.0
    for p, z in judged_points:
        if total <= 0:
            run, total = [], 0.0
        run.append((p, z))
        total += z - DEPARTURE_K / 2
        scores = [s for _, s in run]
        # a lone bucket is one of many tested: it must depart twice as far to count as a window, unless it is the
        # range's last one (asked "why is it failing" an hour into an incident, the latest hour is the one in question)
        latest = p.bucket + step >= end
        needed = DEPARTURE_K if len(run) > 1 or latest else 2 * DEPARTURE_K
        if total > 0 and z > DEPARTURE_K / 2 and max(scores) > needed and total > best[0]:
            best = (total, [q for q, _ in run])
    if not best[1]:
        return None
    chosen = _with_thin_edges(best[1], [p for p in series if p.in_range], departure)
    window = (max(chosen[0].bucket, start), min(chosen[-1].bucket + step, end))
    value = statistics.median(p.value for p in chosen if judged(p, query.measure) or p is chosen[0])
    return window, value, sum(z for p in chosen if judged(p, query.measure) and (z := departure(p)) is not None)


def _with_thin_edges(
    chosen: list[Point], in_range: list[Point], departure: Callable[[Point], float | None]
) -> list[Point]:
    """The window's buckets, grown over the thin buckets on either side that depart as it does: a bucket with a
    few requests is too thin to start a window, but one that goes on departing does not end it."""
    index = {p.bucket: i for i, p in enumerate(in_range)}
    first, last = index[chosen[0].bucket], index[chosen[-1].bucket]

    def continues(p: Point) -> bool:
        z = departure(p)  # a thin bucket is noisy: it carries the window on only when it departs beyond K
        return p.requests < MIN_REQUESTS and z is not None and z > DEPARTURE_K

    while first > 0 and continues(in_range[first - 1]):
        first -= 1
    while last + 1 < len(in_range) and continues(in_range[last + 1]):
        last += 1
    return in_range[first : last + 1]


def dimension_sql(d: SqlDialect, dimension: str) -> str:
    """A dimension's column as stored (grouping on the raw column is cheaper than on text; Python names it)."""
    column = {
        "model": "model",
        "provider": "provider",
        "user": "user_id",
        "status": "status",
        "country": "country_code",
    }
    if dimension in column:
        return d.col(column[dimension])
    return d.property_value(d.param(dimension.split(":", 1)[1]))


def _drivers(
    engine: Engine, query: ExplainQuery, org: str, bad: tuple[Any, ScoreBelow | None], window: tuple[datetime, datetime]
) -> tuple[int, list[Driver], Impact]:
    """Every dimension value's bad requests in the window and requests in the baseline (one grouped pass), the
    values that stand out, and the window's impact with the top one's part of it."""
    counts = _tallies(engine, query, org, bad, window)
    first = next(iter(counts.values()), {})
    total = Tally(*(sum(getattr(t, f) for t, _ in first.values()) for f in Tally.__dataclass_fields__))
    base_total = sum(bl for _, bl in first.values())
    drivers, parts = [], {}
    if total.bad and base_total:
        for dim, values in counts.items():
            for value, (tally, bl) in values.items():
                if value == "":
                    continue  # requests without a value for the dimension are left out, as in grouping
                driver = Driver(dim, value, tally.bad / total.bad, bl / base_total)
                if driver.stands_out(total.bad, base_total):
                    drivers.append(driver)
                    parts[(dim, value)] = tally
    drivers.sort(key=lambda x: (-x.lift, x.dimension, x.value))  # most above its baseline share first
    span = (seconds_utc(query.baseline.end) - seconds_utc(query.baseline.start)).total_seconds()
    scale = (window[1] - window[0]).total_seconds() / max(span, 1.0)
    top = parts[(drivers[0].dimension, drivers[0].value)] if drivers else None
    return total.bad, drivers, Impact(query.measure, total, scale, top)


def _tallies(
    engine: Engine, query: ExplainQuery, org: str, bad: tuple[Any, ScoreBelow | None], window: tuple[datetime, datetime]
) -> dict[str, dict[str, tuple[Tally, int]]]:
    """{dimension: {value: (its Tally, its requests in the baseline)}} from one GROUPING SETS pass."""
    d = engine.dialect()
    where = _scope_sql(engine, d, query, org)
    created = "r.request_created_at"
    b0 = d.param(seconds_utc(query.baseline.start), "DateTime")
    b1 = d.param(seconds_utc(query.baseline.end), "DateTime")
    w0 = d.param(window[0], "DateTime")
    w1 = d.param(window[1], "DateTime")
    bad_sql = _bad_sql(d, *bad)
    in_base = f"{created} >= {b0} AND {created} < {b1}"
    in_window = f"{created} >= {w0} AND {created} < {w1}"
    dims = list(query.dimensions)
    columns = ", ".join(f"{dimension_sql(d, dim)} AS d{i}" for i, dim in enumerate(dims))
    where.append(f"(({in_base}) OR ({in_window}))")
    cost = f"coalesce({d.cost_column()}, 0)"
    flags = {
        "w": f"({in_window}) AND {bad_sql}",
        "wa": in_window,
        "bb": f"({in_base}) AND {bad_sql}",
        "bl": in_base,
    }
    inner = ", ".join(f"CASE WHEN {cond} THEN 1 ELSE 0 END AS {name}" for name, cond in flags.items())
    inner += f", CASE WHEN {in_window} THEN {cost} ELSE 0 END AS wc, CASE WHEN {in_base} THEN {cost} ELSE 0 END AS bc"
    inner = f"SELECT {columns}, {inner} FROM {engine.source} WHERE {' AND '.join(where)}"
    sets = ", ".join(f"(d{i})" for i in range(len(dims)))
    names = ", ".join(f"d{i}" for i in range(len(dims)))
    sql = (
        f"SELECT {names}, sum(w), sum(wa), sum(wc), sum(bb), sum(bc), sum(bl) FROM ({inner}) AS t "
        f"GROUP BY GROUPING SETS ({sets}){engine.nulls_in_grouping_sets}"
    )
    counts: dict[str, dict[str, tuple[Tally, int]]] = {dim: {} for dim in dims}
    for row in engine.fetch(sql, d.params):
        values = row[: len(dims)]
        w, wa, wc, bb, bc, bl = (0 if v is None else v for v in row[len(dims) :])
        tally = Tally(int(w), int(wa), int(wc) / 1e9, int(bb), int(bc) / 1e9)
        for dim, value in zip(dims, values, strict=True):
            if value is not None:
                counts[dim][str(value)] = (tally, int(bl))  # (a NULL country is never a driver: it reads as no value)
                break
    return counts


def _naive(moment: Any) -> datetime:
    if isinstance(moment, str):
        moment = parse_instant(moment)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
