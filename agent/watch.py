"""Evaluate monitors: each series' value at evaluation instants, when an incident opens, lasts and ends, and why.

One code path serves the live loop and the backtest: `checks` computes a monitor's value over the window ending at
each instant (one bucketed query per phase of the instants when the window is an hour or a day, so a 30-day backtest
costs a handful of queries per monitor) and judges it; `Tracker` turns a series' checks into incidents;
`explain_incident` asks the explanation detector (tools/investigate.py) for the drivers.

An anomaly is judged by the detector's rule: the value against the median of the baseline's hourly values (the 7
days before the window), in spreads of 1.4826·MAD with the detector's floors. It opens at 2K spreads (K = 3, the
detector's bar for a lone bucket), or beyond K on every evaluation of a whole window, and lasts while the value
stays beyond K/2.

A spread belongs to the baseline's usual number of requests an hour: a window holding fewer requests is noisier, so
its spread grows by √(usual / n) (a p90 of 11 requests is not news). A score's spread is never less than the
standard error its requests' own spread gives (the baseline's pooled within-hour variance, √(var / n)); when the
median of its hourly averages lies past its requests' own mean on the breaking side by more than the floor, it
departs no further than from that mean by their standard error (a thin yes/no score's hourly median is 1.0 where
15% are no).

A score average also opens early: the newest two complete quarter hours, judged against the same baseline with
their own spread, beyond 2K while the whole window already departs past K/2 — a drop is posted half an hour after
it began instead of when it fills most of an hour's window. An early slice past K but not 2K opens by its far tail:
at least 3 of its scores below the baseline's 1st percentile, whose binomial tail against the baseline's share
below it is past 1.5K (an exact tail, so its bar is a false-alarm budget, not the robust 2K: docs/watch.md). A thin
error rate's window that departs without opening is judged again on its newest half hour by its failures' count
(past 2K): an outage's first half hour is not diluted by the calm half hour before it.

Thin series (docs/watch.md): an error rate over fewer than 50 requests is also judged by its failures' binomial tail
against the baseline's pooled share of failures; a quantile of under 10 requests, or jumping past 2K out of calm,
does not open at once; a window too thin to judge holds an open incident for up to a window; a split cost's floor is
2% of the whole organization's hourly cost.

A latency past K (up to 3K) is confirmed by what it is made of: on one model's series by the count of its requests
beyond the baseline's typical value; over a mix of models by the models' own series (a burst of a slow model's
usual requests is a change of traffic, not of latency).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from heliqa.tools import investigate
from heliqa.tools.backends import Backend
from heliqa.tools.errors import HeliqaError
from heliqa.tools.filters import all_of, leaf
from heliqa.tools.investigate import DEPARTURE_K, MIN_REQUESTS, MIN_SCALE, MIN_SCALE_SHARE, ExplainQuery, binomial_tail
from heliqa.tools.monitors import Monitor, format_value, measure_words
from heliqa.tools.query import HalfOpenTimeFilter, MetricsQuery, TimeFilter, percentile_fraction
from heliqa.tools.results import iso_z
from heliqa.tools.sqlbackend import naive_utc

BASELINE = timedelta(days=investigate.BASELINE_DAYS)
HOUR = timedelta(hours=1)
DETECTOR_MEASURE = {"latency": "latency", "errors": "errors", "cost": "cost", "score": "score"}
UPDATE_EVERY = timedelta(hours=1)  # a thread update at most this often while an incident lasts
QUARTER = timedelta(minutes=15)
EARLY = 2 * QUARTER  # a score average's early slice: the newest two complete quarter hours
THIN_BASELINE = 100  # requests a thin series' baseline needs before its failures' count is judged
FEW_FOR_QUANTILE = 10  # a pNN over fewer requests opens no incident at once (it may when sustained)
MIN_FAILURES = 3  # the least failed requests a count opens an incident on
MIX_JUDGED = 0.8  # the share of a mix's requests its models' own series must hold to confirm its departure
EXACT_K = 1.5 * DEPARTURE_K  # an early slice's far-tail count opens past this normal deviate (docs/watch.md)
TAIL = 0.01  # the baseline's per-request quantile whose far side that count counts
COUNTED = 50  # an error rate over fewer requests is also judged by its failures' count (more: rates vary more
# from hour to hour than a binomial count says, and the hourly spread holds that)
# a quantile's column, whose requests beyond the baseline's value confirm a departure (every request has a latency)
COLUMNS = {
    "latency": "latency",
    "ttft": "time_to_first_token",
    "cost": "cost",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
}
Values = dict[str | None, dict[datetime, tuple[float | None, int]]]
# baseline hours: (value, requests, the requests' own variance within the hour, None when not read)
Hours = dict[str | None, dict[datetime, tuple[float | None, int, float | None]]]


@dataclass(frozen=True)
class Check:
    """One evaluation of one series: its value over the window ending at `at`, and the verdict."""

    at: datetime
    value: float | None
    requests: int
    typical: float | None  # the baseline's median (anomaly), or the threshold
    spreads: float | None  # how far beyond the baseline, in spreads (anomaly)
    firing: bool  # beyond the bar that keeps an incident open
    opens: bool  # beyond the bar that opens one
    early: float | None = None  # a score average's early slice, in spreads (when judged)


def _aligned(span: timedelta, instants: list[datetime]) -> dict[int, list[datetime]]:
    """Instants grouped by their phase within a bucket of `span` (minutes), for one bucketed query per phase."""
    out: dict[int, list[datetime]] = {}
    for t in instants:
        minutes = t.hour * 60 + t.minute
        out.setdefault(minutes % int(span.total_seconds() // 60), []).append(t)
    return out


def window_values(backend: Backend, org: str, m: Monitor, instants: list[datetime]) -> Values:
    """Each series' (value, requests) over [t − window, t) for every instant t (naive UTC, whole minutes)."""
    span = m.span
    out: dict = {}
    bucket = {HOUR: "hour", timedelta(days=1): "day", timedelta(minutes=1): "min"}.get(span)
    if bucket is None:  # an odd window: one query per instant
        for t in instants:
            for group, value, n, _ in _run(backend, org, m, t - span, t, None, 0):
                out.setdefault(group, {})[t] = (value, n)
        return out
    for phase, times in _aligned(span, instants).items():
        rows = _run(backend, org, m, min(times) - span, max(times), bucket, phase, by_bucket=True)
        wanted = {t - span for t in times}
        for group, (label, value, n, _) in rows:
            if label in wanted:
                out.setdefault(group, {})[label + span] = (value, n)
    return out


def _score_rows(backend, org, m, start: str, end: str, bucket, tzd, variances: dict | None = None):
    """A score's value and scored requests per (bucket, group) in one pass over the requests and their score maps,
    as the explanation's series reads them (the scores table's join costs a second a query on 10M rows); None
    where the backend has no SQL engine. `bucket` "quarter" is the UTC quarter hour (the early slices);
    `variances`, when given, receives each bucket's within-bucket sample variance."""
    if not hasattr(backend, "engine"):
        return None
    engine = backend.engine()
    d = engine.dialect()
    key = d.param(m.score_key)
    value = d.score_value(key)
    agg = m.agg
    expr = d.quantile(value, percentile_fraction(agg)) if agg.startswith("p") else f"{agg}({value})"
    spread = d.var_samp(f"CAST({value} AS DOUBLE)") if variances is not None else "NULL"
    where = [
        engine.scope(d, org),
        d.has_score(key),
        d.time_range(TimeFilter(start=start, end=end)),
        d.node(m.filter_node()),
    ]
    group = "NULL"
    if m.by:
        group, drop = d.group_expr(m.query(start, end, None, 0).groupBy)
        where += drop
    if bucket == "quarter":
        time_bucket = d.quarter_hour("r.request_created_at")
    else:
        time_bucket = d.bucket("r.request_created_at", bucket, tzd) if bucket else "NULL"
    sql = (
        f"SELECT {time_bucket} AS b, {group} AS g, {expr} AS v, count(*) AS n, {spread} AS s FROM {engine.source} "
        f"WHERE {' AND '.join(where)} GROUP BY b, g"
    )
    values, counts = {}, {}
    for b, g, v, n, var in engine.fetch(sql, d.params):
        label = (naive_utc(b), None if g is None else str(g))
        values[label], counts[label] = _number(v), int(n)
        if variances is not None:
            variances[label] = _number(var)
    return values, counts


def _number(v) -> float | None:
    return None if v is None or math.isnan(float(v)) else float(v)


def _run(backend, org, m, start, end, bucket, tzd, by_bucket=False) -> list:
    """Value, request count and (scores) the requests' variance per (bucket, group): `[(group, value, n, var)]`,
    or `[(group, (bucket, value, n, var))]`."""
    a, b = iso_z(start), iso_z(end)
    variances: dict = {}
    fast = _score_rows(backend, org, m, a, b, bucket, tzd, variances) if m.measure == "score" else None
    if fast is not None:
        values, counts = fast
    else:
        values = {(r.bucket, r.group): r.value for r in backend.run(m.query(a, b, bucket, tzd), org)}
        counted = backend.run(m.query(a, b, bucket, tzd, count=True), org)
        counts = {(r.bucket, r.group): int(r.value or 0) for r in counted}
    if m.measure == "requests":
        counts = {k: int(v or 0) for k, v in values.items()}
    summed = m.agg in ("sum", "count") or m.measure == "requests"
    out = []
    for key in counts.keys() | values.keys():
        value = values.get(key)
        if value is None and summed:
            value = 0.0  # no requests: nothing spent, nothing counted
        bucket_start, group = key
        row = (value, counts.get(key, 0), variances.get(key))
        out.append((group, (bucket_start, *row)) if by_bucket else (group, *row))
    return out


def early_values(backend: Backend, org: str, m: Monitor, instants: list[datetime]) -> Values:
    """Each series' (average, requests) over the newest two complete quarter hours before every instant, for a
    score average's early opening; empty for any other monitor or a backend without SQL."""
    if m.measure != "score" or m.agg != "avg" or m.kind != "anomaly" or m.span <= EARLY:
        return {}
    ends = {t: _quarter(t) for t in instants}
    read = _score_rows(backend, org, m, iso_z(min(ends.values()) - EARLY), iso_z(max(ends.values())), "quarter", 0)
    if read is None:
        return {}
    values, counts = read
    sums: dict[str | None, dict[datetime, tuple[float, int]]] = {}
    for (quarter, group), n in counts.items():
        if values.get((quarter, group)) is not None:
            sums.setdefault(group, {})[quarter] = (values[(quarter, group)] * n, n)
    out: Values = {}
    for group, quarters in sums.items():
        for t, end in ends.items():
            parts = [quarters.get(end - QUARTER * k, (0.0, 0)) for k in (1, 2)]
            n = sum(p[1] for p in parts)
            if n:
                out.setdefault(group, {})[t] = (sum(p[0] for p in parts) / n, n)
    return out


def _quarter(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def baseline_hours(
    backend: Backend, org: str, m: Monitor, first: datetime, last: datetime, cache: dict | None = None
) -> Hours:
    """Each series' clock-hour (value, requests) over the baselines of instants `first`..`last`.

    With a `cache` (a live watcher's, kept between cycles) only the hours since the previous cycle are read, the
    last one again from its start (it was still filling): a cycle reads an hour or two of rows, not a week."""
    start, end = (first - m.span - BASELINE).replace(minute=0), last - m.span
    key = m.model_dump_json()
    known = cache.get(key) if cache is not None else None
    if known is None or known["start"] > start or known["end"] < end - BASELINE:
        known = {"start": start, "end": start, "hours": {}}
    for group, (label, value, n, var) in _run(
        backend, org, m, max(known["end"].replace(minute=0), start), end, "hour", 0, by_bucket=True
    ):
        known["hours"].setdefault(group, {})[label] = (value, n, var)
    known["end"] = end
    for hours in known["hours"].values():  # forget what no baseline will look at again
        for label in [h for h in hours if h < start - HOUR]:
            del hours[label]
    if cache is not None:
        cache[key] = known
    return known["hours"]


def _judged(m: Monitor, value: float | None, n: int) -> bool:
    return value is not None and (_summed(m) or n >= MIN_REQUESTS)


@dataclass(frozen=True)
class Stats:
    """A baseline before an instant: its median, spread, usual requests an hour and the requests' own spread."""

    typical: float
    spread: float  # the hourly values' own spread (1.4826·MAD, or the breaking side's when wider)
    floor: float  # the least spread counted whatever the requests: 2% of the median, the unit's floor
    requests: float
    sd: float | None  # a score's pooled within-hour standard deviation per request; None when not read
    failing: float | None = None  # an error rate's pooled share of failed requests (0..1); None otherwise
    thin: bool = False  # under a day of judged hours: only the failed requests' count can be judged
    pooled: tuple[float, float] | None = None  # a score average's requests: their mean and standard deviation


class Baseline:
    """The median and spread of a series' baseline hours before an instant (cached per hour)."""

    def __init__(self, m: Monitor, hours: dict[datetime, tuple], whole: dict[datetime, float] | None = None):
        # `whole`: a split cost's hourly total over every series, whose share is the least departure that counts
        self.m, self.hours, self.whole, self._cache = m, hours, whole, {}
        # a sum is 0 in an hour without requests, but only once the series exists (a model launched last week
        # has no baseline of zeros before its launch)
        self.first = min((h for h, row in hours.items() if row[1]), default=None)

    def at(self, t: datetime) -> Stats | None:
        """The judged hours in [t − window − 7 d, t − window), or None under a day of them (an error rate's
        pooled share of failures still, when the baseline holds enough requests)."""
        end = (t - self.m.span).replace(minute=0)
        if end not in self._cache:
            self._cache[end] = self._stats(end - BASELINE, end)
        return self._cache[end]

    def _stats(self, start: datetime, end: datetime) -> Stats | None:
        filled = _summed(self.m)
        base, counts, within, dof, failed, seen = [], [], 0.0, 0, 0.0, 0
        total, squares = 0.0, 0.0 if self.m.measure == "score" and self.m.agg == "avg" else None
        hour = max(start, self.first or end)
        while hour < end:
            value, n, *var = self.hours.get(hour, (0.0 if filled else None, 0))
            if value is not None and n:
                failed, seen, total = failed + value / 100 * n, seen + n, total + value * n
                squares = _squares(squares, value, n, var[0] if var else None)
            if _judged(self.m, value, n):
                base.append(value)
                counts.append(n)
                if var and var[0] is not None and n > 1:
                    within, dof = within + var[0] * (n - 1), dof + n - 1
            hour += HOUR
        # (failures + 1) / (requests + 2): a series that never failed in its baseline still has a share above 0
        failing = (failed + 1) / (seen + 2) if _rate(self.m) else None
        if len(base) < 24:
            if failing is None or seen < THIN_BASELINE:
                return None
            hourly = seen / max((end - max(start, self.first or end)) / HOUR, 1)
            return Stats(100 * failing, 0.0, 0.0, hourly, None, failing, thin=True)
        typical, spread, floor = _spread(self.m, base)
        if self.whole:  # one model's extra cents are not news when the organization spends dollars an hour
            totals = [v for h, v in self.whole.items() if start <= h < end]
            floor = max(floor, MIN_SCALE_SHARE * statistics.median(totals)) if totals else floor
        sd = math.sqrt(within / dof) if dof else None
        pooled = None
        if squares is not None and seen > 1:
            pooled = (total / seen, math.sqrt(max(squares / seen - (total / seen) ** 2, 0.0)))
        return Stats(typical, spread, floor, statistics.median(counts), sd, failing, pooled=pooled)


def _squares(squares: float | None, value: float, n: int, var: float | None) -> float | None:
    """The running sum of a score's squared values over baseline hours (from each hour's mean and variance); None
    once an hour of several requests has no variance read."""
    if squares is None or (n > 1 and var is None):
        return None
    return squares + n * value * value + ((n - 1) * var if n > 1 else 0.0)


def _whole(hours: Hours) -> dict[datetime, float]:
    """Each hour's sum over every series of a split."""
    out: dict[datetime, float] = {}
    for series in hours.values():
        for hour, (value, *_) in series.items():
            out[hour] = out.get(hour, 0.0) + (value or 0.0)
    return out


def _rate(m: Monitor) -> bool:
    return m.measure == "errors" and m.agg == "rate"


def _summed(m: Monitor) -> bool:
    return m.measure in ("cost", "requests") or m.agg in ("sum", "count")


def _spread(m: Monitor, base: list[float]) -> tuple[float, float, float]:
    """(median, the values' own spread, the floor) of baseline hours."""
    typical = statistics.median(base)
    floor = max(MIN_SCALE.get(DETECTOR_MEASURE.get(m.measure, ""), 1.0), MIN_SCALE_SHARE * abs(typical))
    if m.measure == "cost" and typical == 0:
        floor = max(floor, statistics.fmean(base))  # mostly idle: an hour departs only at K times the average
    # hourly values of a thin series are skewed (a p90 of 15 requests jumps up more than down): the spread on the
    # side that breaks counts, when it is the wider one
    side = [v - typical if m.up else typical - v for v in base]
    side = [d for d in side if d > 0]
    wide = 1.4826 * statistics.median(side) if len(side) >= 12 else 0.0
    return typical, max(1.4826 * statistics.median(abs(v - typical) for v in base), wide), floor


def spread_for(m: Monitor, stats: Stats, n: int) -> float:
    """The spread of a value over `n` requests: the baseline's, grown for fewer requests than usual, with the
    floors a failure rate or a score over few requests needs."""
    spread = stats.spread
    if not _summed(m) and 0 < n < stats.requests:
        spread *= math.sqrt(stats.requests / n)  # sampling noise; the floor is what counts as news, whatever n
    spread = max(spread, stats.floor)
    if m.measure == "errors":
        spread = max(spread, 100.0 / max(n, 1))  # one failure in a quiet hour is not a departure
    elif m.measure == "score" and stats.sd is not None:
        spread = max(spread, stats.sd / math.sqrt(max(n, 1)))  # the standard error of n scores
    elif m.measure == "score":
        # scores whose own spread was not read: one low score among a few is not a departure either (a score of 0
        # moves the mean by typical/n: 2 spreads, under K)
        spread = max(spread, abs(stats.typical or 1.0) / max(2 * n, 1))
    return spread


def checks(
    backend: Backend, org: str, m: Monitor, instants: list[datetime], cache: dict | None = None
) -> dict[str | None, list[Check]]:
    """Every series' checks at the instants (in order); `cache` keeps baseline hours between calls."""
    instants = sorted(instants)
    values = window_values(backend, org, m, instants)
    baselines: dict[str | None, Baseline] = {}
    early: Values = {}
    if m.kind == "anomaly":
        hours = baseline_hours(backend, org, m, instants[0], instants[-1], cache)
        whole = _whole(hours) if m.by and m.measure == "cost" and _summed(m) else None
        baselines = {g: Baseline(m, h, whole) for g, h in hours.items()}
        for group in hours:
            values.setdefault(group, {})
        early = early_values(backend, org, m, instants)
    out, known = {}, cache if cache is not None else {}  # (the models' baselines, read once for every check)
    for group, by_time in values.items():
        slices = early.get(group, {})
        out[group] = [_check(m, t, *by_time.get(t, (None, 0)), baselines.get(group), slices.get(t)) for t in instants]
        if early:
            out[group] = [_tail_confirmed(backend, org, m, group, c, known) for c in out[group]]
        elif m.kind == "anomaly" and _rate(m) and group in baselines:
            out[group] = [_early_failures(backend, org, m, group, c, baselines[group]) for c in out[group]]
        if m.kind != "anomaly" or m.measure not in COLUMNS:
            continue
        if not _one_model(m, group):
            out[group] = [_mix_confirmed(backend, org, m, group, c, known) for c in out[group]]
        elif m.agg.startswith("p"):
            out[group] = [_confirmed(backend, org, m, group, c) for c in out[group]]
    return out


def _mix_confirmed(backend: Backend, org: str, m: Monitor, group: str | None, check: Check, cache: dict) -> Check:
    """A latency departure past K (up to 3K) over a mix of models, confirmed by the models' own series: a burst of
    a slow model's usual requests moves a mix's p90 with no model slower than usual. The departure counts as the
    lesser of its own and the models' (the largest one's, or all of theirs together: a broad slowdown moves each a
    little), once the models judged hold most of the window's requests. Asked only of a check past K (the models'
    values then; their baseline hours once). Measured on the demo: it removed the model-mix false alarm of
    `latency` (one in 23 days on a 300,000-row store) and delayed no planted incident."""
    if check.spreads is None or not DEPARTURE_K < check.spreads <= 3 * DEPARTURE_K:
        return check
    split = m.model_copy(update={"filters": dict(m.series_filters(group)), "by": "model", "min_requests": 0})
    models = [c[0] for c in checks(backend, org, split, [check.at], cache).values() if c[0].spreads is not None]
    if not models or sum(c.requests for c in models) < MIX_JUDGED * check.requests:
        return check  # the models are too thin to say: the mix's own departure stands
    together = sum(c.spreads for c in models) / math.sqrt(len(models))
    z = min(check.spreads, max(max(c.spreads for c in models), together))
    return Check(
        check.at,
        check.value,
        check.requests,
        check.typical,
        z,
        z > DEPARTURE_K / 2,
        check.opens and z > 2 * DEPARTURE_K,
    )


def _confirmed(backend: Backend, org: str, m: Monitor, group: str | None, check: Check) -> Check:
    """A quantile's departure past K (up to 3K) on one model's series, confirmed by its requests: how many of the
    window's lie beyond the baseline's typical pNN, as the normal deviate of that count's binomial tail against the
    (100 − NN)% beyond it in a usual hour. The departure counts as the lesser of the two: a p90 moved by the shape
    of its slowest two or three requests is no shift of the series (most of a slowed model's requests lie beyond).
    Measured on the demo: it removed every false alarm of `latency by model` (3 in 23 days on one 200,000-row
    store) and delayed no planted incident."""
    if check.spreads is None or not DEPARTURE_K < check.spreads <= 3 * DEPARTURE_K or check.typical is None:
        return check  # (past 3K a departure is news whatever its requests: a slowed model's first quarter hour)
    beyond, judged = _beyond(backend, org, m, group, check)
    if judged < max(m.min_requests, 1):
        return check
    share = 1 - percentile_fraction(m.agg) if m.up else percentile_fraction(m.agg)
    tail = binomial_tail(beyond, judged, min(max(share, 1e-6), 1 - 1e-6)) if beyond else 1.0
    counted = statistics.NormalDist().inv_cdf(1 - min(max(tail, 1e-15), 0.5))
    z = min(check.spreads, counted)
    opens = check.opens and z > 2 * DEPARTURE_K
    return Check(check.at, check.value, check.requests, check.typical, z, z > DEPARTURE_K / 2, opens)


def _tail_confirmed(backend: Backend, org: str, m: Monitor, group: str | None, check: Check, cache: dict) -> Check:
    """A score average's early slice past K (but not 2K) while its window departs, opened by its far tail: how many
    of the slice's scores lie below the baseline's own 1st percentile, as the normal deviate of that count's
    binomial tail against the baseline's share below it (at least 3, past EXACT_K). A drop that lives in part of a
    series (one app's canary among four) moves its average by a third of its size, and a few of its scores far
    below anything the baseline held: 4 of 9 scores under its 1st percentile is news the average does not tell.
    Asked only of a check whose early slice is past K (two reads: the baseline's percentile once an hour)."""
    if check.opens or not check.firing or check.early is None or not DEPARTURE_K < check.early <= 2 * DEPARTURE_K:
        return check
    read = _score_tail(backend, org, m, group, check.at, cache)
    if read is None:
        return check
    below, judged, share = read
    if below < MIN_FAILURES:
        return check
    tail = binomial_tail(below, judged, share)
    if statistics.NormalDist().inv_cdf(1 - max(tail, 1e-15)) <= EXACT_K:
        return check
    return Check(check.at, check.value, check.requests, check.typical, check.spreads, True, True, check.early)


def _early_failures(backend: Backend, org: str, m: Monitor, group: str | None, check: Check, base: Baseline) -> Check:
    """A thin error rate's window that departs (past K/2, fewer than 50 requests) but does not open, judged again on
    its newest two complete quarter hours: their failures' count against the baseline's pooled share, by the
    count's own rule (past 2K, at least 3 failures). An outage's first half hour is diluted by the calm half hour
    before it in the window (6 of 14 failing), not in its own slice (6 of 7). Two reads, only for such checks."""
    stats = base.at(check.at)
    if check.opens or not check.firing or check.requests >= COUNTED or stats is None or stats.failing is None:
        return check
    stop = _quarter(check.at)
    counts = []
    for measure in ("errors", "requests"):
        query = MetricsQuery(
            measure=measure,
            timeFilter=TimeFilter(start=iso_z(stop - EARLY), end=iso_z(stop)),
            userFilter=m.filter_node(group),
        )
        counts.append(sum(int(r.value or 0) for r in backend.run(query, org)))
    failed, n = counts
    counted = _count_z(m, stats, 100 * failed / n, n) if n else None
    if counted is None or counted <= 2 * DEPARTURE_K:
        return check
    return Check(check.at, check.value, check.requests, check.typical, check.spreads, True, True, counted)


def _score_tail(backend, org, m: Monitor, group: str | None, at: datetime, cache: dict):
    """(scores below the baseline's 1st percentile in the early slice before `at`, the slice's scores, the
    baseline's share below it: (below + 1) / (scores + 2)), or None without SQL or a baseline of 100 scores."""
    if not hasattr(backend, "engine"):
        return None
    engine = backend.engine()
    end = (at - m.span).replace(minute=0)
    key = ("tail", m.model_dump_json(), group, end)
    if key not in cache:
        for old in [k for k in cache if isinstance(k, tuple) and k[:3] == key[:3] and k[3] < end]:
            del cache[old]  # a live watcher's older hours: their baselines are not read again
        cache[key] = _tail_share(engine, org, m, group, end - BASELINE, end)
    if cache[key] is None:
        return None
    bar, share = cache[key]
    stop = _quarter(at)
    counted = _score_counts(engine, org, m, group, stop - EARLY, stop, bar)
    return counted[0], counted[1], share


def _score_where(engine, d, org: str, m: Monitor, group: str | None, start: datetime, end: datetime) -> list[str]:
    key = d.param(m.score_key)
    span = HalfOpenTimeFilter(start=iso_z(start), end=iso_z(end))
    return [engine.scope(d, org), d.has_score(key), d.time_range(span), d.node(m.filter_node(group))]


def _tail_share(engine, org: str, m: Monitor, group: str | None, start: datetime, end: datetime):
    """(the baseline's 1st percentile of scores, its share of scores below it), or None under 100 scores."""
    d = engine.dialect()
    value = d.score_value(d.param(m.score_key))
    where = " AND ".join(_score_where(engine, d, org, m, group, start, end))
    sql = f"SELECT {d.quantile(value, TAIL)}, count(*) FROM {engine.source} WHERE {where}"
    rows = engine.fetch(sql, d.params)
    if not rows or rows[0][0] is None or int(rows[0][1]) < THIN_BASELINE:
        return None
    bar = float(rows[0][0])
    below, seen = _score_counts(engine, org, m, group, start, end, bar)
    return bar, (below + 1) / (seen + 2)


def _score_counts(engine, org: str, m: Monitor, group, start: datetime, end: datetime, bar: float) -> tuple[int, int]:
    """(scores below `bar`, scores) of a series in [start, end)."""
    d = engine.dialect()
    value = d.score_value(d.param(m.score_key))
    where = " AND ".join(_score_where(engine, d, org, m, group, start, end))
    below = f"sum(CASE WHEN {value} < {d.param(bar, 'Float64')} THEN 1 ELSE 0 END)"
    rows = engine.fetch(f"SELECT {below}, count(*) FROM {engine.source} WHERE {where}", d.params)
    return (int(rows[0][0] or 0), int(rows[0][1] or 0)) if rows else (0, 0)


def _one_model(m: Monitor, group: str | None) -> bool:
    """Whether a series is one model's requests: one population, whose real shift moves most of them. (Over a mix,
    one model's slowdown moves the p90 with its few requests: the count cannot confirm it.)"""
    model = m.filters.get("model")
    return (m.by == "model" and group is not None) or (model is not None and not isinstance(model, list))


def _beyond(backend: Backend, org: str, m: Monitor, group: str | None, check: Check) -> tuple[int, int]:
    """(requests beyond the check's typical value, requests carrying the measure) in its window."""
    column = COLUMNS[m.measure]
    beyond = leaf(column, "gt" if m.up else "lt", check.typical)
    carried = leaf(column, "gte", 0)
    counts = []
    for node in (beyond, carried) if column != "latency" else (beyond,):
        query = MetricsQuery(
            measure="requests",
            timeFilter=TimeFilter(start=iso_z(check.at - m.span), end=iso_z(check.at)),
            userFilter=all_of([m.filter_node(group), node]),
        )
        counts.append(sum(int(r.value or 0) for r in backend.run(query, org)))
    return counts[0], counts[1] if len(counts) > 1 else check.requests


def _check(
    m: Monitor,
    t: datetime,
    value: float | None,
    n: int,
    baseline: Baseline | None,
    early: tuple[float | None, int] | None = None,
) -> Check:
    if value is None and m.measure in ("cost", "requests"):
        value = 0.0
    judged = _judged(m, value, n) and n >= m.min_requests
    if m.kind == "threshold":
        bar = m.above if m.above is not None else m.below
        beyond = judged and (value > bar if m.above is not None else value < bar)
        return Check(t, value, n, bar, None, beyond, beyond)
    stats = baseline.at(t) if baseline is not None else None
    counted = _count_z(m, stats, value, n)
    if counted is not None and (not judged or stats.thin):
        # too few requests for a rate's hourly spread: the count of failures says whether the window departs
        return Check(t, value, n, stats.typical, counted, counted > DEPARTURE_K / 2, counted > 2 * DEPARTURE_K)
    if not judged or stats is None:
        return Check(t, value, n, stats.typical if stats else None, None, False, False)
    z = max(_z(m, stats, value, n), counted or 0.0)  # over a few dozen requests the count is the sharper test
    mean, sd = stats.pooled or (stats.typical, 0.0)
    if sd > 0 and ((mean - stats.typical) if m.up else (stats.typical - mean)) > stats.floor:
        # the median of a thin series' hourly averages skewed past its requests' own mean by more than the floor
        # (1.0 for a yes/no score where 15% are no): the departure is no further than from that mean, by the
        # requests' standard error
        z = min(z, ((value - mean) if m.up else (mean - value)) / (sd / math.sqrt(n)))
    # a quantile of under 10 requests is their slowest few: it opens only when it departs for a whole window
    opens = z > 2 * DEPARTURE_K and not (m.agg.startswith("p") and n < FEW_FOR_QUANTILE)
    slice_z = None
    if early is not None and early[0] is not None and early[1] >= MIN_REQUESTS and z > DEPARTURE_K / 2:
        slice_z = _z(m, stats, early[0], early[1])
        opens = opens or slice_z > 2 * DEPARTURE_K
    return Check(t, value, n, stats.typical, z, z > DEPARTURE_K / 2, opens, slice_z)


def _count_z(m: Monitor, stats: Stats | None, value: float | None, n: int) -> float | None:
    """An error rate over few requests as the normal deviate of its failures' binomial tail against the
    baseline's pooled share (6 failures of 7 where 1% fail is news; 1 of 3 is not); None when not applicable."""
    if stats is None or stats.failing is None or value is None or not max(m.min_requests, MIN_FAILURES) <= n < COUNTED:
        return None
    failed = round(value / 100 * n)
    if failed < MIN_FAILURES or value / 100 < 2 * stats.failing:
        return 0.0
    tail = binomial_tail(failed, n, stats.failing)
    return statistics.NormalDist().inv_cdf(1 - max(tail, 1e-15))


def _z(m: Monitor, stats: Stats, value: float, n: int) -> float:
    gap = (value - stats.typical) if m.up else (stats.typical - value)
    return gap / spread_for(m, stats, n)


# --- incidents -------------------------------------------------------------------------------------------------
@dataclass
class Incident:
    """One incident of one series, from its first firing check to the check that found it over."""

    monitor: str
    group: str | None
    start: datetime  # estimated: the evaluation before the first firing one
    opened: datetime  # the first firing evaluation (when it is posted)
    typical: float | None
    peak: float | None
    last: float | None
    end: datetime | None = None
    resolved: datetime | None = None
    excess: float = 0.0  # impact: extra cost / failed requests / slow requests summed over the evaluations
    checks: int = 0
    updated: datetime | None = None
    drivers: list[dict[str, Any]] = field(default_factory=list)
    driver_note: str = ""
    reopened: int = 0

    @property
    def id(self) -> str:
        """Stable across restarts: the monitor, the series and the opening instant."""
        return f"{self.monitor}|{self.group or ''}|{iso_z(self.opened)}"

    def to_json(self) -> dict[str, Any]:
        """JSON with instants as UTC `...Z`."""
        out = asdict(self)
        for key in ("start", "opened", "end", "resolved", "updated"):
            out[key] = iso_z(out[key]) if out[key] else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incident:
        """Inverse of to_json."""
        moments = {k: _parse(data.get(k)) for k in ("start", "opened", "end", "resolved", "updated")}
        return cls(**{**data, **moments})


def ended_entry(m: Monitor, incident: Incident) -> dict[str, Any]:
    """An ended incident as the watch state keeps it for the digests: its JSON, its id, headline and impact."""
    return {**incident.to_json(), "id": incident.id, "headline": headline(m, incident), "impact": impact(m, incident)}


def _flips(m: Monitor, check: Check, before: str | None) -> bool:
    """Whether a quantile's jump past 2K may be its population flipping: a p90 of a mix of fast and slow models
    jumps to the slow one's whenever its share tips over a tenth of the window. It opens at 2K when the previous
    evaluation was past K already, or at 3K at once."""
    if m.kind != "anomaly" or not m.agg.startswith("p") or check.spreads is None:
        return False
    return before is None and check.spreads <= 3 * DEPARTURE_K


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "")) if text else None


@dataclass
class Event:
    """What a check did to a series: `open`, `update`, `reopen` or `resolve` its incident."""

    kind: str
    incident: Incident


class Tracker:
    """Series states (open incident, the previous check's verdict, the last resolved incident) as plain JSON."""

    def __init__(self, state: dict[str, Any] | None = None):
        self.state = state if state is not None else {}

    def step(self, m: Monitor, group: str | None, check: Check, every: timedelta) -> list[Event]:
        """Feed one check; returns what changed."""
        key = f"{m.name}|{group or ''}"
        s = self.state.setdefault(key, {"open": None, "armed": None, "last": None})
        # beyond K on every evaluation of a whole window (sustained), or beyond 2K at once
        beyond = check.spreads is not None and check.spreads > DEPARTURE_K
        before = s["armed"]
        # a window too thin to judge breaks a run past K (nothing says it went on: a thin model's p90 wanders past
        # K for an hour with gaps between), but is no calm evaluation for where a departure began
        s["armed"] = (s["armed"] or iso_z(check.at)) if beyond else None
        if not check.firing and not (check.spreads is None and check.requests > 0 and m.kind == "anomaly"):
            s["rise"] = iso_z(check.at)  # the last evaluation before a departure began: its incident's start
        sustained = beyond and check.at - _parse(s["armed"]) >= m.span
        opening = (check.opens and not _flips(m, check, before)) or sustained
        if s["open"] is not None:
            incident = Incident.from_json(s["open"])
            return self._ongoing(m, s, incident, check, every)
        if not opening:
            return []
        last = Incident.from_json(s["last"]) if s["last"] else None
        if last is not None and last.resolved and check.at - last.resolved <= m.cooldown_span:
            last.end, last.resolved, last.reopened = None, None, last.reopened + 1
            s["open"], s["last"] = last.to_json(), None
            self._add(last, check, every, m)
            s["open"] = last.to_json()
            return [Event("reopen", last)]
        # an incident opening on a window that already departed past K/2 (or after a sustained run past K) began
        # after the last calm evaluation
        rise, armed = _parse(s.get("rise")), _parse(s.get("armed")) or check.at
        start = rise if rise is not None and armed - 2 * m.span <= rise < check.at else check.at - every
        incident = Incident(m.name, group, start, check.at, check.typical, check.value, check.value)
        self._add(incident, check, every, m)
        s["open"] = incident.to_json()
        return [Event("open", incident)]

    def _ongoing(self, m: Monitor, s: dict, incident: Incident, check: Check, every: timedelta) -> list[Event]:
        if check.firing:
            s["calm"], s["held"] = None, None
            self._add(incident, check, every, m)
            events = []
            if check.at - (incident.updated or incident.opened) >= UPDATE_EVERY:
                incident.updated = check.at
                events.append(Event("update", incident))
            s["open"] = incident.to_json()
            return events
        # calm on one evaluation is a dip (as one calm bucket does not cut an explanation's window): it ends on the
        # second calm evaluation in a row, or at once when the series has nothing left to judge (no requests)
        judged = check.spreads is not None or (m.kind == "threshold" and check.value is not None)
        if not judged and check.requests:
            # too few requests to judge: the incident holds (a thin series' quiet quarter is not its end) for up to
            # a window, then ends where the holding began
            s["held"] = s.get("held") or iso_z(check.at)
            if check.at - _parse(s["held"]) < m.span:
                return []
        elif judged and not s.get("calm"):
            s["calm"] = iso_z(check.at)
            return []
        # the window ending at the first calm evaluation had left it behind: it ended about one window before;
        # unjudged since `held`, it is last known to depart in the window ending there
        calm = _parse(s.get("calm"))
        last = calm - m.span if calm is not None else _parse(s.get("held")) or check.at - m.span
        incident.end = max(last, incident.start + every)
        incident.resolved = check.at
        s["open"], s["last"], s["calm"], s["held"] = None, incident.to_json(), None, None
        return [Event("resolve", incident)]

    @staticmethod
    def _add(incident: Incident, check: Check, every: timedelta, m: Monitor) -> None:
        incident.checks += 1
        incident.last = check.value
        if check.value is not None and (incident.peak is None or (check.value > incident.peak) == m.up):
            incident.peak = check.value
        if check.value is not None and check.typical is not None:
            share = every / m.span  # evaluations overlap: each adds its own slice of the window
            incident.excess += _excess(m, check) * min(share, 1.0)

    def remember(self, incident: Incident) -> None:
        """Store what was learnt about an open incident since its event (its drivers)."""
        key = f"{incident.monitor}|{incident.group or ''}"
        if self.state.get(key, {}).get("open"):
            self.state[key]["open"] = incident.to_json()

    def open_incidents(self) -> list[Incident]:
        """Every open incident."""
        return [Incident.from_json(s["open"]) for s in self.state.values() if s.get("open")]


def _excess(m: Monitor, check: Check) -> float:
    """What one window cost beyond normal: dollars, failed requests, or requests beyond the bar."""
    gap = (check.value - check.typical) if m.up else (check.typical - check.value)
    if m.measure == "cost" and m.agg == "sum":
        return max(gap, 0.0)
    if m.measure == "errors" and m.agg == "rate":
        return max(gap, 0.0) / 100 * check.requests
    return float(check.requests)


# --- explanation ------------------------------------------------------------------------------------------------
def explain_incident(backend: Backend, org: str, m: Monitor, incident: Incident, now: datetime) -> None:
    """Fill the incident's drivers from the explanation detector (what the bad requests are concentrated in)."""
    measure = DETECTOR_MEASURE.get(m.measure)
    if measure is None or (m.measure == "errors" and m.agg != "rate"):
        incident.driver_note = f"drivers are found for latency, errors, cost and scores, not {measure_words(m)}"
        return
    start = incident.start.replace(minute=0)
    end = max(now, start + timedelta(minutes=1))
    vocab = backend.vocabulary(org)
    fixed = set(m.filters) | ({m.by} if m.by else set())
    dims = [d for d in ("model", "provider", "user", "status", "country") if d not in fixed]
    dims += [f"property:{k}" for k in sorted(vocab.properties) if f"property.{k}" not in fixed]
    if m.measure == "errors":
        dims = [d for d in dims if d != "status"]  # status defines a failure: it cannot explain one
    query = ExplainQuery(
        measure=measure,
        scoreKey=m.score_key,
        timeFilter=TimeFilter(start=iso_z(start), end=iso_z(end)),
        baseline=TimeFilter(start=iso_z(start - BASELINE), end=iso_z(start)),
        userFilter=m.filter_node(incident.group),
        dbIncrement="hour",
        dimensions=tuple(dims),
    )
    try:
        found = backend.explain(query, org)
    except HeliqaError as error:  # Helicone's REST API cannot explain: the post goes out without drivers
        incident.driver_note = f"no drivers: {error}"
        return
    incident.drivers = [d.to_json() for d in found.drivers[:5]]
    if not incident.drivers:
        incident.driver_note = f"the {found.bad_in_window} bad requests are not concentrated in any one value"


def headline(m: Monitor, incident: Incident) -> str:
    """'p90 latency (model = gpt-4) is 13,512 ms vs a typical 4,480 ms (3.0×) since 02:00 UTC; 214 slow requests'."""
    series = f" for {m.by.removeprefix('property.')} {incident.group}" if m.by else ""
    words = measure_words(m) + series
    value = format_value(m, incident.peak)
    if m.kind == "threshold":
        side = "above" if m.above is not None else "below"
        compare = f"{side} {format_value(m, incident.typical)}"
    else:
        ratio = f" ({incident.peak / incident.typical:.1f}×)" if incident.typical and incident.peak else ""
        compare = f"vs a typical {format_value(m, incident.typical)}{ratio}"
    return f"{words[:1].upper() + words[1:]} {'reached' if m.up else 'fell to'} {value} {compare}"


def impact(m: Monitor, incident: Incident) -> str:
    """'about $41.20 more than usual', 'about 310 more failed requests than at 20.0%', '1,204 requests in the
    breaching windows'."""
    than = "than usual" if m.kind == "anomaly" else f"than at {format_value(m, incident.typical)}"
    count = f"{incident.excess:,.0f}"
    requests = "request" if count == "1" else "requests"
    if m.measure == "cost" and m.agg == "sum" and incident.typical is not None:
        return f"about {format_value(m, incident.excess)} more {than}"
    if m.measure == "errors" and m.agg == "rate" and incident.typical is not None:
        return f"about {count} more failed {requests} {than}"
    return f"{count} {requests} in the breaching windows"


def duration_words(span: timedelta) -> str:
    """'45 min', '2 h 15 min', '1 d 3 h'."""
    minutes = int(span.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{mins} min"] * bool(mins and not days)
    return " ".join(parts) or "0 min"


def evaluation_instants(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """Instants on multiples of `every` (from the epoch) in (start, end]."""
    step = int(every.total_seconds())
    first = (int((start - datetime(1970, 1, 1)).total_seconds()) // step + 1) * step
    out = []
    t = datetime(1970, 1, 1) + timedelta(seconds=first)
    while t <= end:
        out.append(t)
        t += every
    return out


def backtest(
    backend: Backend, org: str, monitors: Iterable[Monitor], start: datetime, end: datetime, every: timedelta
) -> list[Incident]:
    """Replay the monitors as if they had run every `every` over (start, end]: the incidents, by opening time."""
    instants = evaluation_instants(start, end, every)
    incidents: list[Incident] = []
    for m in monitors:
        tracker = Tracker()
        for group, series in sorted(checks(backend, org, m, instants).items(), key=lambda kv: kv[0] or ""):
            for check in series:
                for event in tracker.step(m, group, check, every):
                    if event.kind == "open":
                        incidents.append(event.incident)
                    if event.kind in ("open", "reopen", "resolve"):
                        _keep(incidents, event.incident)
        for incident in tracker.open_incidents():
            _keep(incidents, incident)
        for incident in (i for i in incidents if i.monitor == m.name):
            explain_incident(backend, org, m, incident, incident.end or end)
    return sorted(incidents, key=lambda i: (i.opened, i.monitor, i.group or ""))


def _keep(incidents: list[Incident], incident: Incident) -> None:
    """Replace the stored copy of an incident (trackers hand out fresh objects) by its latest state."""
    for i, known in enumerate(incidents):
        if known.id == incident.id:
            incidents[i] = incident
            return
    incidents.append(incident)
