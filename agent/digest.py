"""A digest's content: a period's totals against the period before, the biggest changes by model and provider, and
the incidents of the period.

Every figure is an ordinary question's query (a `QuerySpec` over the period, its filters as conditions, resolved to
a `MetricsQuery` and run on the backend), so a digest says what `heliqa ask` would for the same range. Both periods
are half-open, `[start, end)`: a request at the boundary is counted once. A period is whole local days in the
digest's zone (a daily period across a DST switch lasts 23 or 25 hours), ending at the digest's local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from heliqa.agent.answer import fmt, unit_of
from heliqa.agent.investigate import delta_text
from heliqa.agent.spec import QuerySpec
from heliqa.agent.timerange import TimeRange
from heliqa.agent.watch import Incident, headline, impact
from heliqa.agent.watch_scope import filter_conditions
from heliqa.tools.backends import Backend
from heliqa.tools.errors import NotAvailable
from heliqa.tools.monitors import Digest, Monitor
from heliqa.tools.query import HalfOpenTimeFilter, MetricsQuery
from heliqa.tools.results import Row, iso_z

DAYS = {"daily": 1, "weekly": 7}
# (measure, aggregation, label): the period's totals
TOTALS = (
    ("requests", None, "requests"),
    ("cost", "sum", "cost"),
    ("error_rate", None, "error rate"),
    ("latency", "p90", "p90 latency"),
)
MAX_SCORES = 6  # score keys whose averages a digest shows (by name, those scored in the period first)
MOVER_DIMENSIONS = ("model", "provider")
MOVER_MEASURES = (("cost", "sum", "cost"), ("requests", None, "requests"))
MOVERS = 3  # the biggest changes per dimension and measure


@dataclass(frozen=True)
class Period:
    """[start, end) in naive UTC."""

    start: datetime
    end: datetime

    def to_json(self) -> dict[str, str]:
        """`{"start", "end"}` as UTC instants."""
        return {"start": iso_z(self.start), "end": iso_z(self.end)}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local(day: date, d: Digest, zone: ZoneInfo) -> datetime:
    """The digest's local time on `day`, as naive UTC (a time in a DST gap moves by the gap)."""
    return _utc(datetime.combine(day, d.clock, zone))


def last_scheduled(d: Digest, tz: str, now: datetime) -> datetime:
    """The latest instant (naive UTC) at or before `now` when the digest is due: its local time on each day (daily)
    or on its weekday (weekly), in zone `tz`."""
    zone = ZoneInfo(tz)
    day = now.replace(tzinfo=UTC).astimezone(zone).date()
    if d.every == "weekly":
        day -= timedelta(days=(day.weekday() - d.day) % 7)
    moment = _local(day, d, zone)
    return moment if moment <= now else _local(day - timedelta(days=DAYS[d.every]), d, zone)


def periods(every: str, end: datetime, tz: str) -> tuple[Period, Period]:
    """The period of one local day (or week) ending at `end` (naive UTC), and the one before it."""
    zone, days = ZoneInfo(tz), timedelta(days=DAYS[every])
    local = end.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    start = _utc((local - days).replace(tzinfo=zone))
    before = _utc((local - 2 * days).replace(tzinfo=zone))
    return Period(start, end), Period(before, start)


@dataclass
class Figure:
    """One figure of both periods: a total (group None) or one model's or provider's value."""

    label: str
    query: MetricsQuery  # the current period's query: what the figure is, and how its values are shown
    current: float | None
    previous: float | None
    dimension: str | None = None
    group: str | None = None

    @property
    def change(self) -> float | None:
        """Current minus previous (None when either is unknown)."""
        return None if self.current is None or self.previous is None else self.current - self.previous

    def texts(self) -> tuple[str, str, str]:
        """The current value, the previous one and the change as people read them (`+$2.30 (+23.0%)`)."""
        q = self.query
        return fmt(self.current, q), fmt(self.previous, q), delta_text(self.current, self.previous, q)

    def to_json(self) -> dict[str, Any]:
        """The numbers: values, change, and the change in percent of the previous value (points for a rate)."""
        change, pct = self.change, None
        if change is not None and unit_of(self.query) != "%" and self.previous:
            pct = round(change / abs(self.previous) * 100, 2)
        out = {"label": self.label, "measure": self.query.measure, "aggregation": self.query.agg}
        out |= {"unit": unit_of(self.query), "current": self.current, "previous": self.previous, "change": change}
        out |= {"change_pct": pct}
        if self.dimension:
            out |= {"dimension": self.dimension, "group": self.group}
        if self.query.scoreKey:
            out["score_key"] = self.query.scoreKey
        return out


@dataclass
class DigestContent:
    """What a digest post says."""

    every: str
    tz: str
    period: Period
    previous: Period
    filters: dict[str, Any]
    totals: list[Figure]
    movers: list[Figure]
    incidents: list[dict[str, Any]] = field(default_factory=list)
    watched: bool = True  # False: no watcher's state beside the store, so its incidents are not known

    def to_json(self) -> dict[str, Any]:
        """`heliqa watch --digest --json`: the periods, the totals, the movers and the incidents."""
        return {
            "every": self.every,
            "tz": self.tz,
            "period": self.period.to_json(),
            "previous": self.previous.to_json(),
            "filters": self.filters,
            "totals": [f.to_json() for f in self.totals],
            "movers": [f.to_json() for f in self.movers],
            "incidents": self.incidents if self.watched else None,
        }


def period_query(measure: str, aggregation: str | None, period: Period, filters: dict, group: str | None = None):
    """The question 'MEASURE (by GROUP) over the period, with the filters' as the query that runs: a QuerySpec
    resolved in UTC, its range made half-open."""
    spec = QuerySpec(
        measure=measure,
        aggregation=aggregation,
        groupBy=group,
        range=TimeRange(kind="between", start=period.start, end=period.end),
        conditions=filter_conditions(filters),
        timeZone="UTC",
    )
    query = spec.to_query(period.end.replace(tzinfo=UTC), ZoneInfo("UTC"))
    half_open = HalfOpenTimeFilter(start=query.timeFilter.start, end=query.timeFilter.end)
    return query.model_copy(update={"timeFilter": half_open})


def _values(backend: Backend, org: str, query: MetricsQuery) -> dict[str | None, float | None]:
    rows: list[Row] = backend.run(query, org)
    return {r.group: r.value for r in rows}


def _both(backend, org, measure, agg, periods_: tuple[Period, Period], filters, group=None):
    """(the current query, its values per group, the previous period's values per group), or None when the
    backend cannot compute this figure (Helicone's API and some measures): the digest goes without it."""
    now, before = (period_query(measure, agg, p, filters, group) for p in periods_)
    try:
        return now, _values(backend, org, now), _values(backend, org, before)
    except NotAvailable:
        return None


def _additive(query: MetricsQuery) -> bool:
    return query.measure in ("requests", "errors") or query.agg == "sum"


def totals(backend: Backend, org: str, pair: tuple[Period, Period], filters: dict) -> list[Figure]:
    """Requests, cost, error rate, p90 latency and each score key's average, in both periods."""
    out = []
    for measure, agg, label in TOTALS:
        if (found := _both(backend, org, measure, agg, pair, filters)) is None:
            continue
        query, now, before = found
        zero = 0.0 if _additive(query) else None  # no requests: no cost, but no latency either
        out.append(Figure(label, query, _or(now.get(None), zero), _or(before.get(None), zero)))
    if (found := _both(backend, org, "score", None, pair, filters)) is None:  # grouped by score key
        return out
    query, now, before = found
    keys = sorted((k for k in set(now) | set(before) if k), key=lambda k: (now.get(k) is None, k))[:MAX_SCORES]
    for key in keys:
        keyed = query.model_copy(update={"scoreKey": key})
        out.append(Figure(f"score {key}", keyed, now.get(key), before.get(key)))
    return out


def _or(value: float | None, default: float | None) -> float | None:
    return default if value is None else value


def movers(backend: Backend, org: str, pair: tuple[Period, Period], filters: dict) -> list[Figure]:
    """The MOVERS largest changes of cost and of requests per model and per provider (a value missing from one
    period counts as 0 there), largest first."""
    out = []
    for dimension in MOVER_DIMENSIONS:
        for measure, agg, label in MOVER_MEASURES:
            if (found := _both(backend, org, measure, agg, pair, filters, dimension)) is None:
                continue
            query, now, before = found
            figures = [
                Figure(label, query, now.get(g) or 0.0, before.get(g) or 0.0, dimension, g)
                for g in set(now) | set(before)
                if g is not None
            ]
            figures = [f for f in figures if f.change]
            out += sorted(figures, key=lambda f: (-abs(f.change or 0), f.group or ""))[:MOVERS]
    return out


def content(backend: Backend, org: str, every: str, end: datetime, tz: str, filters: dict) -> DigestContent:
    """The digest of the period ending at `end` (naive UTC): totals and movers; incidents are added by the caller
    (`period_incidents`), from the watcher's state."""
    pair = periods(every, end, tz)
    return DigestContent(
        every,
        tz,
        pair[0],
        pair[1],
        dict(filters),
        totals(backend, org, pair, filters),
        movers(backend, org, pair, filters),
    )


# --- incidents ---------------------------------------------------------------------------------------------------
def _incident(data: dict[str, Any]) -> Incident:
    return Incident.from_json({k: v for k, v in data.items() if k not in ("id", "headline", "impact")})


def period_incidents(
    series: dict[str, Any],
    ended: list[dict[str, Any]],
    monitors: dict[str, Monitor],
    threads: dict[str, dict[str, str]],
    period: Period,
) -> list[dict[str, Any]]:
    """The incidents open at some point of the period, oldest first: the ended ones the state keeps (and each
    series' last), and those still open; each with its headline, impact and the threads of its posts."""
    found: dict[str, dict[str, Any]] = {}
    for data in ended + [s["last"] for s in series.values() if s.get("last")]:
        found.setdefault(data.get("id") or _incident(data).id, data)
    for s in series.values():
        if s.get("open"):
            found[_incident(s["open"]).id] = s["open"]
    out = []
    for key, data in found.items():
        i = _incident(data)
        if not (i.start < period.end and (i.end is None or i.end > period.start)):
            continue
        m = monitors.get(i.monitor)
        out.append(
            {
                "id": key,
                "monitor": i.monitor,
                "group": i.group,
                "start": iso_z(i.start),
                "end": iso_z(i.end) if i.end else None,
                "open": i.end is None,
                "headline": headline(m, i) if m else data.get("headline", i.monitor),
                "impact": impact(m, i) if m else data.get("impact", ""),
                "threads": {c: ts for c, ts in threads.get(key, {}).items() if ts != "printed"},
            }
        )
    return sorted(out, key=lambda x: (x["start"], x["id"]))
