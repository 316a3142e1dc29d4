"""Run the three forms (compare, list, explain) on a backend and phrase their answers from the rows only."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from heliqa.agent.answer import MEASURE_WORDS, Answer, agg_words, bucket_text, duration_text, fmt, interpret, unit_of
from heliqa.agent.forms import CompareSpec, ExplainSpec, FormSpec, ListSpec, found_list
from heliqa.agent.grounding import ground
from heliqa.agent.spec import Condition, QuerySpec, condition_node
from heliqa.agent.timerange import zone as named_zone
from heliqa.tools.backends import Backend
from heliqa.tools.filters import parse_instant
from heliqa.tools.investigate import (
    DEPARTURE_K,
    MIN_REQUESTS,
    MIN_SCORED,
    Driver,
    ExplainQuery,
    Explanation,
    ListQuery,
    RequestRow,
    ScoreShift,
    baseline_values,
    bucket_spread,
    judged,
    window_buckets,
)
from heliqa.tools.monitors import split_properties
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row, Vocabulary, iso_z, money
from heliqa.tools.sql import seconds_utc


@dataclass(frozen=True)
class PeriodRow(Row):
    """A comparison row: `period` is "current" or "previous"."""

    period: str = "current"

    def to_json(self) -> dict:
        """`{"period", "bucket", "group", "value"}`."""
        return {"period": self.period, **super().to_json()}


def run_form(
    backend: Backend, org: str, spec: FormSpec, now: datetime, tz: ZoneInfo, vocab: Vocabulary, planner: str
) -> tuple[Answer, FormSpec]:
    """Ground, validate and run a form; returns the answer and the spec to remember for follow-ups."""
    tz_name = spec.timeZone if not isinstance(spec, CompareSpec) else spec.query.timeZone
    tz_name = tz_name or getattr(tz, "key", str(tz))
    if isinstance(spec, CompareSpec):
        spec = spec.model_copy(update={"query": ground(spec.query, vocab)})
        return compare(backend, org, spec, now, tz, tz_name, planner), spec
    spec = spec.model_copy(update={"conditions": _ground_conditions(spec.conditions, vocab)})
    if isinstance(spec, ListSpec):
        return list_requests(backend, org, spec, now, tz, tz_name, planner), spec
    if spec.measure == "score":
        grounded = ground(QuerySpec(measure="score", scoreKey=spec.scoreKey), vocab)
        spec = spec.model_copy(update={"scoreKey": grounded.scoreKey})
    return explain(backend, org, spec, now, tz, tz_name, vocab, planner)


def _ground_conditions(conditions: list[Condition], vocab: Vocabulary) -> list[Condition]:
    return ground(QuerySpec(measure="requests", conditions=conditions), vocab).conditions


# --- compare -----------------------------------------------------------------------------------------------
def compare(
    backend: Backend, org: str, spec: CompareSpec, now: datetime, tz: ZoneInfo, tz_name: str, planner: str
) -> Answer:
    """The aggregate twice: the current period picks the top groups, the previous one is kept to those groups."""
    query = spec.to_query(now, spec.query.zone(tz))
    current = backend.run(query.current, org)
    previous = backend.run(query.previous, org)
    if query.current.top is not None:
        keep = {r.group for r in current}
        previous = [r for r in previous if r.group in keep]
    rows = [PeriodRow(r.bucket, r.group, r.value, "current") for r in current]
    rows += [PeriodRow(r.bucket, r.group, r.value, "previous") for r in previous]
    shift = spec.shift_words()
    hours = tuple(_hours(q) for q in (query.current, query.previous))
    if spec.endsAtStart or hours[0] != hours[1]:  # say which span the previous period is
        shift = f"{shift} ({_period_text(query.previous, tz_name)})"
    uneven = hours if hours[0] != hours[1] and _additive(query.current) else None
    interpretation = f"{interpret(query.current, spec.query, tz_name)} · vs {shift}"
    return Answer(
        "ok",
        compare_message(query.current, current, previous, shift, uneven),
        query=query,
        spec=spec,
        rows=rows,
        interpretation=interpretation,
        planner=planner,
        tz=tz_name,
        kind="compare",
        cells=compare_cells(query.current, current, previous, uneven),
    )


def _hours(query: MetricsQuery) -> float:
    return (seconds_utc(query.timeFilter.end) - seconds_utc(query.timeFilter.start)).total_seconds() / 3600


def _period_text(query: MetricsQuery, tz_name: str) -> str:
    """'Nov 23 13:00–14:00 UTC', 'Nov 22 14:00 – Nov 23 14:00 UTC': a period in the answer's zone."""
    tzd = query.timeZoneDifference
    a, b = (_local(parse_instant(t), tzd) for t in (query.timeFilter.start, query.timeFilter.end))
    if a.date() == b.date():
        return f"{a:%b %d %H:%M}–{b:%H:%M} {tz_name}"
    return f"{a:%b %d %H:%M} – {b:%b %d %H:%M} {tz_name}"


def _additive(query: MetricsQuery) -> bool:
    return query.measure in ("requests", "errors", "threats") or query.agg in ("sum", "count")


def _totals(query: MetricsQuery, rows: list[Row]) -> dict[str | None, float | None]:
    """One value per group: the value itself, or for buckets their sum (counts, sums) or mean."""
    additive = _additive(query)
    out: dict[str | None, list[float]] = {}
    for r in rows:
        if r.value is not None:
            out.setdefault(r.group, []).append(r.value)
    return {g: (sum(v) if additive else sum(v) / len(v)) for g, v in out.items()}


def change_text(now_value: float | None, before: float | None, query: MetricsQuery) -> str:
    """'$12.30 vs $10.00 (+$2.30, +23.0%)'."""
    if now_value is None or before is None:
        return f"{fmt(now_value, query)} vs {fmt(before, query)}"
    delta = now_value - before
    sign = "+" if delta >= 0 else "−"
    if unit_of(query) == "%":  # a rate moves in points, never a percent of a percent
        return f"{fmt(now_value, query)} vs {fmt(before, query)} ({sign}{abs(delta):.2f} pts)"
    pct = f", {sign}{abs(delta) / abs(before) * 100:.1f}%" if before else ""
    return f"{fmt(now_value, query)} vs {fmt(before, query)} ({sign}{fmt(abs(delta), query)}{pct})"


def _per_hour(totals: dict[str | None, float | None], hours: float) -> dict[str | None, float | None]:
    return {g: (v / hours if v is not None and hours else v) for g, v in totals.items()}


def compare_message(
    query: MetricsQuery,
    current: list[Row],
    previous: list[Row],
    shift: str,
    uneven: tuple[float, float] | None = None,
) -> str:
    """Both values, the change and the percent change (per group when grouped). A sum or a count over periods of
    different lengths (`uneven`: their hours) is compared per hour; the message gives both totals too."""
    words = MEASURE_WORDS[query.measure] if not query.scoreKey else f"{query.scoreKey} score"
    head = agg_words(query.agg, words)
    head = head[:1].upper() + head[1:]
    now_totals, before_totals = _totals(query, current), _totals(query, previous)
    over = " (over the buckets)" if query.dbIncrement else ""
    if not now_totals and not before_totals:
        return "No matching requests in either period."
    if uneven is not None:
        spans = [duration_text(timedelta(hours=h)) for h in uneven]
        totals = (
            f" Totals: {fmt(sum(v or 0 for v in now_totals.values()), query)} over {spans[0]} vs "
            f"{fmt(sum(v or 0 for v in before_totals.values()), query)} over {spans[1]}."
        )
        now_totals, before_totals = _per_hour(now_totals, uneven[0]), _per_hour(before_totals, uneven[1])
        head, over = f"{head} per hour", f"{over} (the periods differ in length)"
    else:
        totals = ""
    if set(now_totals) | set(before_totals) == {None}:
        change = change_text(now_totals.get(None), before_totals.get(None), query)
        return f"{head}{over}: {change}, vs {shift}.{totals}"
    gone = [g for g in before_totals if g not in now_totals]
    if _additive(query):  # a group with requests before and none now fell to zero: it stays in the answer
        now_totals.update({g: 0.0 for g in gone})
    groups = sorted(now_totals, key=lambda g: -(now_totals[g] or 0))
    if not _additive(query):
        groups += sorted(gone, key=lambda g: g or "")
    parts = [f"{g}: {change_text(now_totals.get(g), before_totals.get(g), query)}" for g in groups[:8]]
    more = f" (+{len(groups) - 8} more)" if len(groups) > 8 else ""
    return f"{head}{over} by group, vs {shift}{more}: " + "; ".join(parts) + f".{totals}"


def compare_cells(
    query: MetricsQuery, current: list[Row], previous: list[Row], uneven: tuple[float, float] | None = None
) -> list[list[str]]:
    """One line per (bucket position, group): current, previous, change; totals over periods of different lengths
    (`uneven`: their hours) per hour, as the message compares them (buckets are alike already)."""
    grouped = any(r.group is not None for r in current + previous)
    bucketed = query.dbIncrement is not None
    header = (["bucket"] if bucketed else []) + (["group"] if grouped else []) + ["current", "previous", "change"]
    body = []
    if bucketed:
        # periods have their own buckets: line them up by position within each group
        def series(rows: list[Row]) -> dict[str | None, list[Row]]:
            out: dict[str | None, list[Row]] = {}
            for r in sorted(rows, key=lambda r: r.bucket):
                out.setdefault(r.group, []).append(r)
            return out

        now_s, before_s = series(current), series(previous)
        for g in sorted(set(now_s) | set(before_s), key=lambda g: g or ""):
            a, b = now_s.get(g, []), before_s.get(g, [])
            for i in range(max(len(a), len(b))):
                x = a[i] if i < len(a) else None
                y = b[i] if i < len(b) else None
                label = bucket_text((x or y).bucket, query)
                body.append(
                    [label]
                    + ([g or ""] if grouped else [])
                    + [
                        fmt(x and x.value, query),
                        fmt(y and y.value, query),
                        delta_text(x and x.value, y and y.value, query),
                    ]
                )
        return [header] + body
    before = {r.group: r.value for r in previous}
    now = {r.group: r.value for r in current}
    zero = 0.0 if _additive(query) else None  # a count or a sum with no requests now is 0; an average is none
    now.update({g: zero for g in before if g not in now})
    if uneven is not None:
        now, before = _per_hour(now, uneven[0]), _per_hour(before, uneven[1])
        header[-3:-1] = ["current per hour", "previous per hour"]
    for g in sorted(now, key=lambda g: -(now[g] or 0)):
        body.append(
            ([g or ""] if grouped else [])
            + [fmt(now[g], query), fmt(before.get(g), query), delta_text(now[g], before.get(g), query)]
        )
    return [header] + body


def delta_text(a: float | None, b: float | None, query: MetricsQuery) -> str:
    """The change from `b` to `a`: '+$2.30 (+23.0%)', '−0.40 pts' (a rate), '–' when either is unknown."""
    if a is None or b is None:
        return "–"
    sign = "+" if a >= b else "−"
    if unit_of(query) == "%":
        return f"{sign}{abs(a - b):.2f} pts"
    pct = f" ({sign}{abs(a - b) / abs(b) * 100:.1f}%)" if b else ""
    return f"{sign}{fmt(abs(a - b), query)}{pct}"


# --- list --------------------------------------------------------------------------------------------------------
_ORDER_WORDS = {
    "newest": "newest first",
    "latency": "slowest first",
    "cost": "most expensive first",
    "tokens": "most tokens first",
}


def list_requests(
    backend: Backend, org: str, spec: ListSpec, now: datetime, tz: ZoneInfo, tz_name: str, planner: str
) -> Answer:
    """The requests themselves, with a prompt snippet each."""
    query = spec.to_query(now, tz)
    rows = backend.list_requests(query, org)
    interpretation = list_interpretation(query, spec, tz_name)
    return Answer(
        "ok",
        list_message(query, rows, tz_name),
        query=query,
        spec=spec,
        rows=rows,
        interpretation=interpretation,
        planner=planner,
        tz=tz_name,
        kind="list",
        cells=list_cells(rows, query),
    )


def _local(moment: datetime, tzd: float) -> datetime:
    return moment - timedelta(minutes=tzd)


def list_interpretation(query: ListQuery, spec: ListSpec, tz_name: str) -> str:
    """'requests · status ≥ 400 · Nov 23 12:00 → Nov 24 12:00 UTC · newest first · up to 5'."""
    start, end = seconds_utc(query.timeFilter.start), seconds_utc(query.timeFilter.end)
    parts = ["requests"] + [c.describe() for c in spec.conditions]
    if spec.scoreBelow is not None:
        parts.append(f"{spec.scoreBelow.key} < {spec.scoreBelow.below}")
    tzd = query.timeZoneDifference
    parts.append(f"{_local(start, tzd):%b %d %H:%M} → {_local(end, tzd):%b %d %H:%M} {tz_name}")
    parts += [_ORDER_WORDS[query.order], f"up to {query.limit}"]
    return " · ".join(parts)


def list_message(query: ListQuery, rows: list[RequestRow], tz_name: str) -> str:
    """How many requests matched, then one line per request."""
    if not rows:
        return "No requests match that in the time range."
    head = f"{len(rows)} request{'s' if len(rows) != 1 else ''}, {_ORDER_WORDS[query.order]}:"
    lines = [head]
    for r in rows:
        lines.append(f"• {_request_line(r, query)}")
    return "\n".join(lines)


def _request_line(r: RequestRow, query: ListQuery) -> str:
    when = _local(r.created_at, query.timeZoneDifference).strftime("%b %d %H:%M:%S")
    cost = money(r.cost, cents_from=math.inf) if r.cost is not None else "–"
    latency = f"{r.latency_ms:,} ms" if r.latency_ms is not None else "–"
    user = f" · {r.user_id}" if r.user_id else ""
    prompt = f' · "{r.prompt}"' if r.prompt else ""
    link = f" · {r.link}" if r.link else ""
    return f"{when} {r.model} {r.status} {latency} {cost}{user} · {r.request_id}{prompt}{link}"


def list_cells(rows: list[RequestRow], query: ListQuery) -> list[list[str]]:
    """The list as a table."""
    header = ["time", "model", "status", "latency", "tokens", "cost", "user", "request_id"]
    body = [
        [
            _local(r.created_at, query.timeZoneDifference).strftime("%b %d %H:%M:%S"),
            r.model,
            str(r.status),
            f"{r.latency_ms:,} ms" if r.latency_ms is not None else "–",
            f"{r.total_tokens:,}" if r.total_tokens is not None else "–",
            money(r.cost, cents_from=math.inf) if r.cost is not None else "–",
            r.user_id,
            r.request_id,
        ]
        for r in rows
    ]
    return [header] + body


# --- explain -------------------------------------------------------------------------------------------------
_EXPLAIN_WORDS = {"latency": "p90 latency", "errors": "error rate", "cost": "cost", "score": "score"}
_BAD_WORDS = {"latency": "slow", "errors": "failed", "cost": "costly", "score": "low-scored"}


def bad_words(e: Explanation) -> str:
    """'slow', 'failed', '429'."""
    return str(e.query.status) if e.query.status is not None else _BAD_WORDS[e.query.measure]


def explain(
    backend: Backend,
    org: str,
    spec: ExplainSpec,
    now: datetime,
    tz: ZoneInfo,
    tz_name: str,
    vocab: Vocabulary,
    planner: str,
) -> tuple[Answer, ExplainSpec]:
    """The strongest departure among the measures tried, its window and its drivers."""
    zone = named_zone(spec.timeZone) if spec.timeZone else tz
    found = [(spec, backend.explain(q, org)) for q in spec.to_queries(now, zone, vocab)]
    asked = spec
    if spec.measure is None or spec.measure in SCANNED_MEASURES:
        # "why is everything slow" judges each busy model's and provider's latency too (an incident in one model
        # the overall p90 hides); "what happened" each of their latency and error series
        found += _scoped_findings(backend, org, spec, now, zone, vocab, [e for _, e in found])
    splits = Splits()
    if spec.measure in ("score", None):
        # a score that falls within one value of a property key (one app's canary) hardly moves the total; "what
        # happened" judges every score key so
        scored = spec.model_copy(update={"measure": "score"})
        splits = split_findings(backend, org, scored, now, zone, vocab, [e for _, e in found])
    # a sharp departure (seen hour by hour) is what "what happened" asks about before a small shift seen only in blocks
    spec, best = max(found, key=lambda f: (f[1].window is not None, not f[1].coarse, f[1].strength))
    split = splits.winner(best)
    if split is not None:
        spec, best = split.spec, split.found
    if best.window is not None and spec.conditions != asked.conditions:
        _lead_with_own_value(backend, org, best, spec.conditions[-1], found[0][1].query)
    query = best.query
    if best.window is not None:
        bad = _bad_conditions(best)
        listed = found_list(spec, query.measure, best.window, bad, best.score_below, query.timeZoneDifference)
        spec = spec.model_copy(update={"found": listed})
    message = explain_message(best, spec, tz_name)
    if split is not None:
        message = f"{split_text(split)} {message}"
    elif best.window is None and best.query.measure == "score" and scored_text(best):
        message = " ".join(t for t in (message, scored_text(best), splits.scanned_text(best.query.scoreKey)) if t)
    if asked.measure is None and best.window is None:
        tried = ", ".join(measure_words(e) for s, e in found if s is asked)
        message = f"Nothing stands out: {tried} all stayed within their usual ranges (vs the 7 days before)."
    extra: dict[str, Any] = {
        "window": {"start": iso_z(best.window[0]), "end": iso_z(best.window[1])} if best.window else None,
        "baseline": {"start": iso_z(seconds_utc(query.baseline.start)), "end": iso_z(seconds_utc(query.baseline.end))},
    }
    if best.window is not None:
        extra["duration"] = {"seconds": int(_length(best).total_seconds()), "text": duration_text(_length(best))}
        extra["impact"] = best.impact.to_json() if best.impact is not None else None
        extra["bucket"] = bucket_words(best)
        extra["thin_buckets"] = [{"bucket": iso_z(p.bucket), "requests": p.requests} for p in best.thin]
    answer = Answer(
        "ok",
        message,
        query=query,
        spec=spec,
        rows=best.drivers[:10],
        interpretation=explain_interpretation(best, spec, tz_name),
        planner=planner,
        tz=tz_name,
        kind="explain",
        extra=extra,
        cells=driver_cells(best),
        detail=best,
    )
    return answer, spec


SCANNED = {"model": 12, "provider": 8}  # "what happened" also judges the series of this many of each, busiest first
SCANNED_MEASURES = ("latency", "errors")  # a cost adds up, so one model's spike shows in the total already
SCOPED_FLOOR = 20.0  # total departure (in spreads) a scanned series' window needs; quiet days' noise stays below 15
SCOPED_RATIO = 1.5  # ... and this many times the strongest total's


def _scoped(spec: ExplainSpec, now: datetime, zone: ZoneInfo, vocab: Vocabulary) -> list[tuple[ExplainSpec, Any]]:
    """Each busy model's and provider's own latency and error series, so an incident in one model is found even
    when the overall number hides it."""
    fixed = {c.field for c in spec.conditions}
    out = []
    for field, names in (("model", vocab.models), ("provider", vocab.providers)):
        if field in fixed or len(names) < 2:
            continue
        for name in sorted(names, key=lambda n: -names[n])[: SCANNED[field]]:
            condition = Condition(field=field, op="equals", value=name)
            for measure in (spec.measure,) if spec.measure else SCANNED_MEASURES:
                scoped = spec.model_copy(update={"measure": measure, "conditions": [*spec.conditions, condition]})
                try:
                    queries = scoped.to_queries(now, zone, vocab)
                except ValueError:  # a name no filter can hold (a 100,000-character model name): not scanned
                    continue
                out += [(scoped, q) for q in queries]
    return out


def _scoped_findings(
    backend: Backend,
    org: str,
    spec: ExplainSpec,
    now: datetime,
    zone: ZoneInfo,
    vocab: Vocabulary,
    overall: list[Explanation],
) -> list[tuple[ExplainSpec, Explanation]]:
    """The scanned series' departures that say more than the totals: one of dozens of series tested must depart
    far (SCOPED_FLOOR), farther than the strongest total (SCOPED_RATIO times), over a window the total's does not
    already cover (then the total's answer, naming the value as its driver, is the better one)."""
    windows = [e for e in overall if e.window is not None]
    best = max(windows, key=lambda e: e.strength, default=None)
    bar = max(SCOPED_FLOOR, SCOPED_RATIO * (best.strength if best else 0.0))
    out = []
    for scoped, query in _scoped(spec, now, zone, vocab):
        e = backend.explain(query, org)
        if e.window is None or e.strength < bar:
            continue
        if best is not None and _overlap(best.window, e.window) >= 0.8 * (e.window[1] - e.window[0]).total_seconds():
            continue
        out.append((scoped, e))
    return out


SPLIT_Z = 5.0  # a property value's scored requests must fall this many standard errors in its window (one of
# dozens of series and windows tested: quiet days' thin values reach 2 to 3)
SPLIT_BEYOND_Z = 3.0  # ... and this many more than the rest of the requests fell over the same hours


@dataclass(frozen=True)
class SplitFinding:
    """A score's departure within one value of a property key: the value's own explanation, and its scored requests'
    fall in the window set against the rest's."""

    spec: ExplainSpec
    found: Explanation
    shift: ScoreShift  # the value's requests
    rest: ScoreShift  # every other request in the question's scope


@dataclass(frozen=True)
class Splits:
    """What the scan of a score split by each low-cardinality property key found, and what it looked at."""

    found: tuple[SplitFinding, ...] = ()
    keys: tuple[str, ...] = ()  # the property keys scanned
    # per score key, the scanned value with the fewest scored requests in the range: (its words, those requests, the
    # fall its buckets' average needed to show, in which bucket)
    thinnest: dict[str, tuple[str, int, float, str]] = dataclasses.field(default_factory=dict)

    def winner(self, overall: Explanation) -> SplitFinding | None:
        """The value whose fall stands furthest out, when the total shows none as strong (a total's own window
        that covers the value's names it among its drivers instead)."""
        best = max(self.found, key=lambda f: f.shift.z, default=None)
        if best is None or (overall.window is not None and overall.strength >= best.found.strength):
            return None
        return best

    def scanned_text(self, score_key: str | None) -> str:
        """'Each value of app, deployment or team was judged on its own too: the thinnest, deployment canary (77
        scored requests in the range), needed a fall of about 5.21 in a 6-hour block's average to show; none fell
        that far.'"""
        if not self.keys:
            return ""
        thinnest = self.thinnest.get(score_key or "")
        if thinnest is None:
            return f"No one value of {_listed(self.keys)} fell on its own either."
        who, count, fall, bucket = thinnest
        return (
            f"Each value of {_listed(self.keys)} was judged on its own too: the thinnest, {who} ({count:,} scored "
            f"requests in the range), needed a fall of about {fall:,.2f} in {bucket} to show; none fell that far."
        )

    def seen(self, who: str, e: Explanation) -> Splits:
        """These splits with `e` (one value's explanation of a score) counted in `thinnest` when it is thinner."""
        count = sum(p.requests for p in e.series if p.in_range)
        base = baseline_values(e.series, "score")
        before = self.thinnest.get(e.query.scoreKey or "")
        if not count or not base or e.typical is None or (before is not None and before[1] <= count):
            return self
        fall = DEPARTURE_K * bucket_spread("score", e.typical, base)
        return replace(self, thinnest={**self.thinnest, e.query.scoreKey or "": (who, count, fall, _one_bucket(e))})


def _listed(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _split_specs(spec: ExplainSpec, vocab: Vocabulary) -> list[tuple[str, ExplainSpec]]:
    """The question once within each value of each low-cardinality property key it does not fix, most used first."""
    fixed = {c.field for c in spec.conditions}
    out = []
    for key in (k.removeprefix("property.") for k in split_properties(vocab)):
        if f"property:{key}" in fixed:
            continue
        values = vocab.properties.get(key, {})
        for value in sorted(values, key=lambda v: (-values[v], v)):
            condition = Condition(field=f"property:{key}", op="equals", value=value)
            out.append((key, spec.model_copy(update={"conditions": [*spec.conditions, condition]})))
    return out


def split_findings(
    backend: Backend,
    org: str,
    spec: ExplainSpec,
    now: datetime,
    zone: ZoneInfo,
    vocab: Vocabulary,
    overall: list[Explanation],
) -> Splits:
    """Each low-cardinality property value's own series of the score: those whose window the total's does not
    cover, and whose scored requests fell by SPLIT_Z standard errors, SPLIT_BEYOND_Z more than the rest's."""
    if not hasattr(backend, "score_shift"):
        return Splits()
    totals = {e.query.scoreKey: e for e in overall}
    found, keys, splits = [], [], Splits()
    for key, scoped in _split_specs(spec, vocab):
        keys += [key] if key not in keys else []
        own = scoped.conditions[-1]
        for query in scoped.to_queries(now, zone, vocab):
            e, total = backend.explain(query, org), totals.get(query.scoreKey)
            splits = splits.seen(_dimension_words(own.field, str(own.value)), e)
            if e.window is None or total is None:
                continue
            if total.window is not None and _overlap(total.window, e.window) >= 0.8 * _seconds(e.window):
                continue
            shift, rest = backend.score_shift(total.query, org, e.window, condition_node(own))
            if shift.z >= SPLIT_Z and shift.beyond(rest) >= SPLIT_BEYOND_Z:
                found.append(SplitFinding(scoped.model_copy(update={"measure": "score"}), e, shift, rest))
    return replace(splits, found=tuple(found), keys=tuple(keys))


def _seconds(window: tuple[datetime, datetime]) -> float:
    return (window[1] - window[0]).total_seconds()


def split_text(split: SplitFinding) -> str:
    """'Across all requests the groundedness score moved little: the fall is within deployment canary, whose 61
    scored requests averaged 80.2 against 87.1 in the baseline (8.1 standard errors), while the rest moved −0.3.'"""
    condition = split.spec.conditions[-1]
    who = _dimension_words(condition.field, str(condition.value))
    s, rest = split.shift, split.rest
    sign = "+" if rest.fall <= 0 else "−"
    moved = f"{sign}{abs(rest.fall):,.2f}" if rest.window_n else "nothing (no other scored requests)"
    asked = " ".join(c.describe() for c in split.spec.conditions[:-1])
    across = f"the {asked} requests" if asked else "all requests"
    return (
        f"Across {across} the {measure_words(split.found)} moved little: the fall is within {who}, whose "
        f"{s.window_n:,} scored requests in the window averaged {s.window_mean:,.2f} against {s.base_mean:,.2f} in "
        f"the baseline ({s.z:.1f} standard errors), while the rest moved {moved}."
    )


def _lead_with_own_value(backend: Backend, org: str, e: Explanation, own: Condition, asked: ExplainQuery) -> None:
    """A scanned series' own value (the model or provider it is) leads its drivers: every bad request in its
    window holds it, against its share of the baseline's requests in the question's scope. Only a value every one
    of those requests holds too comes before it: it names the same requests more narrowly (a provider's one model)."""
    counts = MetricsQuery(measure="requests", groupBy=own.field, timeFilter=asked.baseline, userFilter=asked.userFilter)
    rows = backend.run(counts, org)
    total = sum(r.value or 0 for r in rows)
    mine = sum(r.value or 0 for r in rows if str(r.group).lower() == str(own.value).lower())
    if not total or not e.bad_in_window:
        return
    narrower = [d for d in e.drivers if d.current >= 1.0 - 1e-9]
    rest = [d for d in e.drivers if d not in narrower]
    e.drivers = [*narrower, Driver(own.field, str(own.value), 1.0, mine / total), *rest]
    if e.impact is not None:
        e.impact = replace(e.impact, driver=e.impact.total)  # all of the series' excess is its own


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return max((min(a[1], b[1]) - max(a[0], b[0])).total_seconds(), 0.0)


def _bad_conditions(e: Explanation) -> list[Condition]:
    q = e.query
    if q.measure == "errors":
        if q.status is not None:
            return [Condition(field="status", op="equals", value=q.status)]
        return [Condition(field="status", op="gte", value=400)]
    if q.measure == "latency" and e.threshold is not None:
        return [Condition(field="latency", op="gt", value=int(e.threshold))]
    if q.measure == "cost" and e.threshold is not None:
        return [Condition(field="cost", op="gt", value=int(e.threshold) / 1e9)]
    return []


def measure_words(e: Explanation) -> str:
    """'p90 latency', 'error rate', '429 rate', '<key> score'."""
    q = e.query
    if q.measure == "errors" and q.status is not None:
        return f"{q.status} rate"
    if q.measure == "score":
        return f"{q.scoreKey} score"
    return _EXPLAIN_WORDS[q.measure]


def _value(e: Explanation, value: float | None) -> str:
    if value is None:
        return "–"
    if e.query.measure == "latency":
        return f"{value:,.0f} ms"
    if e.query.measure == "errors":
        return f"{value:.1f}%"
    if e.query.measure == "cost":
        return dollars(value)
    return f"{value:,.2f}"


def dollars(value: float) -> str:
    """'$21.19', '$0.30', '$0.0078': cents once a figure reaches a dime, four decimals below."""
    return money(value, cents_from=0.1)


def bucket_words(e: Explanation) -> str:
    """'hour', 'day', '3 hours': the length of the series' buckets, which every figure is per."""
    hours = e.step / timedelta(hours=1)
    if hours == 1:
        return "hour"
    if hours == 24:
        return "day"
    return f"{hours:g} hours"


def axis_label(e: Explanation) -> str:
    """The chart's value axis: '$ an hour', 'ms (each hour's p90)', '% (each hour's rate)'."""
    unit = {"latency": "ms", "errors": "%", "cost": "$", "score": e.query.scoreKey or "score"}[e.query.measure]
    return f"{unit} {per_bucket(e)}" if e.query.measure == "cost" else f"{unit} ({per_bucket(e)})"


def per_bucket(e: Explanation) -> str:
    """What a figure of the series is: 'an hour' for a cost, 'each hour's p90' for a latency."""
    unit = bucket_words(e)
    each = f"each {unit}'s" if " " not in unit else f"each {unit.replace(' hours', '-hour')} block's"
    return {
        "latency": f"{each} p90",
        "errors": f"{each} rate",
        "cost": f"a{'n' if unit == 'hour' else ''} {unit}" if " " not in unit else f"per {unit}",
        "score": f"{each} average",
    }[e.query.measure]


def threshold_text(e: Explanation) -> str:
    """What made a request bad, with its unit and the very bound the bad requests' filter compares with (the
    baseline's p90 rounded down to what a request's latency or cost can be): 'slower than 6,865 ms (the baseline's
    p90)', as 'latency > 6,865 ms' lists them."""
    q, bound = e.query, _bad_conditions(e)
    if q.measure == "latency" and bound:
        return f"slower than {bound[0].value_text()} (the baseline's p90)"
    if q.measure == "cost" and bound:
        return f"costing more than {bound[0].value_text()} each (the baseline's p90)"
    if q.measure == "score" and e.score_below is not None:
        return f"scored below {e.score_below.below}"
    return "with status 429" if q.status == 429 else f"with status {q.status}" if q.status else "failed (status ≥ 400)"


def _dimension_words(dimension: str, value: str) -> str:
    return f"{dimension.split(':', 1)[1] if dimension.startswith('property:') else dimension} {value}"


def impact_text(e: Explanation) -> str:
    """The window's total against what the baseline predicts for the same span, and the top driver's part."""
    impact = e.impact
    if impact is None:
        return ""
    cost = e.query.measure == "cost"
    excess = impact.excess
    if cost:
        head = f"{dollars(impact.total.cost)} spent in those {duration_text(_length(e))}, "
        amount = f"{dollars(abs(excess))} {'more' if excess >= 0 else 'less'} than the baseline's average"
    else:
        bad = impact.total.bad
        head = f"{bad:,} request{'s' if bad != 1 else ''} {threshold_text(e)}, "
        amount = f"{abs(excess):,.0f} {'more' if excess >= 0 else 'fewer'} than the baseline's average"
    text = head + amount + f" over {duration_text(_length(e))}"
    part = impact.driver_excess
    if part is not None and e.drivers and excess > 0 and part > 0:
        who = _dimension_words(e.drivers[0].dimension, e.drivers[0].value)
        if part >= excess:
            text += f", all of it from {who}"
        else:
            text += f", {dollars(part) if cost else f'{part:,.0f}'} of it from {who}"
    return text


def thin_text(e: Explanation) -> str:
    """'3 of its 6 hours held fewer than 5 requests (3, 4, 3)', or ''."""
    if not e.thin:
        return ""
    count = len(window_buckets(e))
    counts = ", ".join(str(p.requests) for p in e.thin)
    return f"{len(e.thin)} of its {count} {_buckets_plural(e)} held fewer than {MIN_REQUESTS} requests ({counts})"


def _buckets_plural(e: Explanation) -> str:
    """'hours', 'days', '3-hour blocks'."""
    unit = bucket_words(e)
    return f"{unit.replace(' hours', '-hour')} blocks" if " " in unit else f"{unit}s"


def _one_bucket(e: Explanation) -> str:
    """'an hour's average', 'a 3-hour block's average'."""
    text = per_bucket(e).removeprefix("each ")
    return f"{'an' if text.startswith('hour') else 'a'} {text}"


def _length(e: Explanation) -> timedelta:
    return e.window[1] - e.window[0]


def _span(e: Explanation, tz_name: str) -> str:
    start, end = e.window
    tzd = e.query.timeZoneDifference
    a, b = _local(start, tzd), _local(end, tzd)
    if e.query.dbIncrement == "day" and a.hour == b.hour == 0 and a.minute == b.minute == 0:
        return f"{a:%b %d}–{(b - timedelta(seconds=1)):%b %d} ({tz_name})"
    if a.date() == b.date():
        return f"{a:%b %d %H:%M}–{b:%H:%M} {tz_name}"
    return f"{a:%b %d %H:%M} – {b:%b %d %H:%M} {tz_name}"


def explain_message(e: Explanation, spec: ExplainSpec, tz_name: str) -> str:
    """What changed (each figure with its unit and bucket), for how long and when, its impact, and in what."""
    words = measure_words(e)
    scope = " ".join(c.describe() for c in spec.conditions)
    subject = f"{words} ({scope})" if scope else words
    subject = subject[:1].upper() + subject[1:]
    if e.typical is None:
        return f"No {words} in the 7 days before the range to compare with, so I can't tell what changed."
    if e.window is None and not any(judged(p, e.query.measure) for p in e.series if p.in_range):
        return unjudged_text(e, subject)
    if e.window is None:
        return (
            f"{subject} stayed within its usual range (typical {_value(e, e.typical)} {per_bucket(e)} over the "
            "7 days before); nothing stands out."
        )
    went = "fell to" if e.query.measure == "score" else "rose to"
    if e.query.measure == "cost":
        figures = f"{_value(e, e.window_value)} {per_bucket(e)} vs a typical {_value(e, e.typical)} {per_bucket(e)}"
        change = f" ({e.window_value / e.typical:.1f}× its baseline)" if e.typical else ""
    else:
        figures = f"{_value(e, e.window_value)} vs a typical {_value(e, e.typical)}"
        change = f" ({per_bucket(e)}; {e.window_value / e.typical:.1f}× its baseline)" if e.typical else ""
        if e.query.measure == "errors":
            change = f" ({per_bucket(e)}; {e.window_value - e.typical:+.1f} pts)"
    text = f"{subject} {went} {figures}{change} for {duration_text(_length(e))}, {_span(e, tz_name)}"
    details = [t for t in (impact_text(e), thin_text(e)) if t]
    text += (": " + "; ".join(details) + ".") if details else "."
    if not e.drivers:
        return text + f" The {e.bad_in_window:,} {bad_words(e)} requests are not concentrated in any one value."
    top = e.drivers[0]
    return (
        text + f" {top.current:.0%} of the {e.bad_in_window:,} {bad_words(e)} requests were "
        f"{_dimension_words(top.dimension, top.value)} vs {top.baseline:.0%} of requests before."
    )


def unjudged_text(e: Explanation, subject: str) -> str:
    """No bucket of the range holds enough requests to judge: say how many there were, never 'nothing changed'."""
    inside = [p for p in e.series if p.in_range]
    count = sum(p.requests for p in inside)
    what = "scored requests" if e.query.measure == "score" else "requests"
    if not count:
        return f"{subject}: no {what} in the range, so there is nothing to compare with the 7 days before."
    if count < MIN_REQUESTS:
        held = f"fewer than the {MIN_REQUESTS} a {bucket_words(e).replace(' hours', '-hour block')} needs"
    else:
        held = f"and none of its {_buckets_plural(e)} held {MIN_REQUESTS} or more"
    noise = "too few to tell a change from noise"
    return f"{subject} can't be judged: the range holds only {count:,} {what}, {held}: {noise}."


def scored_text(e: Explanation) -> str:
    """How much a score's total rests on: its scored requests in the range, and how far a bucket's average had to
    fall to show. 'It rests on few scored requests: 510 in the range (about 64 per 3-hour block), so only a fall of
    about 3.90 in a block's average would show.'"""
    inside = [p for p in e.series if p.in_range and judged(p, "score")]
    base = baseline_values(e.series, "score")
    if not inside or not base or e.typical is None:
        return ""
    count = sum(p.requests for p in inside)
    fall = DEPARTURE_K * bucket_spread("score", e.typical, base)
    few = count / len(inside) < MIN_SCORED or e.step > timedelta(hours=1)
    head = "The score is recorded on few requests" if few else "The score rests on"
    per = f"per {bucket_words(e).replace(' hours', '-hour block')}"
    return (
        f"{head} ({count:,} in the range, about {count / len(inside):,.0f} {per}), so only a fall of about "
        f"{fall:,.2f} in {_one_bucket(e)} would show."
    )


def explain_interpretation(e: Explanation, spec: ExplainSpec, tz_name: str) -> str:
    """What was examined: the measure, the filters, the range, the baseline, the buckets."""
    q = e.query
    tzd = q.timeZoneDifference
    start, end = seconds_utc(q.timeFilter.start), seconds_utc(q.timeFilter.end)
    parts = [f"explain {measure_words(e)}"] + [c.describe() for c in spec.conditions]
    parts.append(f"{_local(start, tzd):%b %d %H:%M} → {_local(end, tzd):%b %d %H:%M} {tz_name}")
    parts.append("baseline: the 7 days before")
    parts.append("hourly" if q.dbIncrement == "hour" else "daily")
    return " · ".join(parts)


def driver_cells(e: Explanation) -> list[list[str]]:
    """The drivers as a table."""
    header = ["dimension", "value", "of bad requests", "of baseline", "lift"]
    body = [
        [
            d.dimension.split(":", 1)[1] if d.dimension.startswith("property:") else d.dimension,
            d.value,
            f"{d.current:.0%}",
            f"{d.baseline:.0%}",
            f"+{d.lift * 100:.0f} pts",
        ]
        for d in e.drivers[:10]
    ]
    return [header] + body
