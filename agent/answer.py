"""Answers people can trust: a summary computed from the rows, the interpreted query in one line, a table.

Every number in a summary is taken from the rows; an LLM's prose is used only if each of its numbers
appears in them (`prose_is_grounded`).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from heliqa.agent.spec import INCREMENT_WORDS, QuerySpec
from heliqa.agent.timerange import TimeRange
from heliqa.prompts.lexicon import MEASURE_ANSWER_WORDS
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row, money
from heliqa.tools.sql import seconds_utc
from heliqa.tools.timebuckets import step

MEASURE_WORDS = MEASURE_ANSWER_WORDS  # how answers name each measure (the lexicon's one table)
GROUP_WORDS = {"user": "user", "country": "country", "score_key": "score key"}


@dataclass
class Answer:
    """What every surface renders: status, message, the query that ran, and its rows."""

    status: str
    message: str
    query: MetricsQuery | None = None
    spec: QuerySpec | None = None
    rows: list[Row] = field(default_factory=list)
    interpretation: str = ""
    planner: str = ""
    tz: str = "UTC"
    exit_code: int = 0  # for status "error": the error's exit code (2 bad input/config, 5 backend, ...)
    kind: str = "aggregate"  # aggregate, compare, list or explain
    extra: dict[str, Any] = field(default_factory=dict)  # an explanation's window and baseline
    cells: list[list[str]] | None = None  # a form's table (header first) when rows are not (bucket, group, value)
    detail: Any = None  # a form's whole result (an explanation's series and window, for its chart)

    def to_json(self) -> dict[str, Any]:
        """The `--json` answer shape every surface shares (plus the interpretation line)."""
        out: dict[str, Any] = {
            "status": self.status,
            "kind": self.kind,
            "message": self.message,
            "request": self.query.to_json() if self.query else None,
            "data": [r.to_json() for r in self.rows],
            **self.extra,
        }
        scores = self.query.scores_request() if isinstance(self.query, MetricsQuery) else None
        if scores is not None:
            out["helicone_request"] = {"endpoint": "POST /v1/dashboard/scores/query", "body": scores.to_json()}
        if self.interpretation:
            out["interpretation"] = self.interpretation
        return out


def unit_of(query: MetricsQuery) -> str:
    """The unit a value is shown in."""
    m, agg = query.measure, query.agg
    if m in ("latency", "ttft") and agg != "count":
        return "ms"
    if m == "cost" and agg != "count":
        return "USD"
    if m == "error_rate":
        return "%"
    return ""


def fmt(value: float | None, query: MetricsQuery) -> str:
    """A value for people: `$12.34`, `1,234 ms`, `3.2%`, `0.83`."""
    if value is None:
        return "–"
    unit = unit_of(query)
    if unit == "USD":
        return money(value)
    if unit == "%":
        return f"{value:.2f}%"
    text = (
        f"{value:,.0f}"
        if float(value).is_integer() or abs(value) >= 100
        else f"{value:,.3g}"
        if abs(value) < 1
        else f"{value:,.2f}"
    )
    return f"{text} {unit}".strip()


STALE_AFTER = timedelta(minutes=10)  # a range ending this long after the newest request says where the data ends


def duration_text(span: timedelta) -> str:
    """'6 hours', '1 hour', '3 days', '45 minutes', '5.5 hours' (to a tenth of the unit)."""
    minutes = round(span.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if minutes % (24 * 60) == 0 and minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes >= 72 * 60:
        return f"{minutes / (24 * 60):.1f} days"
    hours = minutes / 60
    return f"{round(hours, 1):g} hour{'s' if round(hours, 1) != 1 else ''}"


def stale_after(span: tuple[datetime, datetime, int]) -> timedelta:
    """How long after an organization's newest request its data reads as ended: STALE_AFTER, or five of its
    average gaps between requests when it is sparser (a quiet org's last half hour is not missing data)."""
    first, last, requests = span
    return max(STALE_AFTER, 5 * (last - first) / max(requests - 1, 1))


def data_through(end: datetime, last: datetime | None, tzd: float, tz: str, after: timedelta = STALE_AFTER) -> str:
    """'Data through Nov 24 11:59 UTC, 3 hours before the range ends.' when the range (ending at `end`, naive UTC)
    runs past the newest request by `after` or more; '' otherwise."""
    if last is None or end - last < after:
        return ""
    local = last - timedelta(minutes=tzd)
    return f"Data through {local:%b %d %H:%M} {tz}, {duration_text(end - last)} before the range ends."


def fresh_rows(rows: list[Row], end: datetime, last: datetime | None, after: timedelta = STALE_AFTER) -> list[Row]:
    """The rows without the buckets that start after the newest request (when the range runs past it by `after`):
    an hour nobody has logged yet is not a drop to zero."""
    if last is None or end - last < after:
        return rows
    return [r for r in rows if r.bucket is None or r.bucket <= last]


def _local(moment: datetime, query: MetricsQuery) -> datetime:
    return moment - timedelta(minutes=query.timeZoneDifference)


def bucket_text(moment: datetime, query: MetricsQuery) -> str:
    """A bucket start in the asker's local time, at the bucket's resolution."""
    local = _local(moment, query)
    inc = query.dbIncrement
    if inc in ("hour", "min"):
        return local.strftime("%b %d %H:%M")
    if inc == "month":
        return local.strftime("%b %Y")
    if inc == "year":
        return local.strftime("%Y")
    return local.strftime("%b %d")


def interpret(query: MetricsQuery, spec: QuerySpec | None, tz: str, notes: tuple[str, ...] | list[str] = ()) -> str:
    """One readable line: 'p90 latency · model = gpt-4 · Nov 17 00:00 → Nov 24 07:00 America/New_York · daily'."""
    agg = query.agg
    words = MEASURE_WORDS[query.measure]
    if query.measure == "score" and query.scoreKey:
        words = f"{query.scoreKey} score"
    head = agg_words(agg, words)
    parts = [head]
    if spec is not None:
        parts += [c.describe() for c in spec.conditions]
    start, end = (seconds_utc(t) for t in (query.timeFilter.start, query.timeFilter.end))
    parts.append(f"{_local(start, query):%b %d %H:%M} → {_local(end, query):%b %d %H:%M} {tz}")
    if query.group:
        group = (
            query.group.split(":", 1)[1]
            if query.group.startswith("property:")
            else GROUP_WORDS.get(query.group, query.group)
        )
        if spec is not None and spec.bottom and spec.top:
            parts.append(f"bottom {spec.top} by {group}")
        else:
            parts.append(f"top {query.top} by {group}" if query.top else f"by {group}")
    if query.dbIncrement:
        parts.append(
            {
                "min": "per minute",
                "hour": "hourly",
                "day": "daily",
                "week": "weekly",
                "month": "monthly",
                "year": "yearly",
            }[query.dbIncrement]
        )
    return " · ".join([*parts, *notes])


FEW_REQUESTS = 20  # a rate, average or percentile of a group over fewer requests says how few


def summarize(query: MetricsQuery, rows: list[Row], counts: dict[str | None, int] | None = None) -> str:
    """A short summary computed only from the rows (and `counts`, each group's requests, when read: a group named
    for its rate, average or percentile over fewer than FEW_REQUESTS requests says how few)."""
    values = [r for r in rows if r.value is not None]
    if not values:
        return "No matching requests in that time range."
    words = MEASURE_WORDS[query.measure] if not query.scoreKey else f"{query.scoreKey} score"
    groups = sorted({r.group for r in values}, key=lambda g: (g is None, g or ""))
    if query.dbIncrement is None:
        if len(values) == 1 and values[0].group is None:
            return f"{interpret_head(query, words)}: {fmt(values[0].value, query)}."
        few = _few(counts or {})
        if len(values) == 1:  # a superlative's one group, named
            one = values[0]
            return f"{one.group}: {agg_words(query.agg, words)} {fmt(one.value, query)}{few(one.group, ' ')}."
        ranked = sorted(values, key=lambda r: -r.value)
        top, low = ranked[0], ranked[-1]
        if top.value == low.value:  # all equal (all zero): no highest or lowest to name
            thin = [
                (r.group, counts[r.group])
                for r in ranked[:6]
                if (counts or {}).get(r.group, FEW_REQUESTS) < FEW_REQUESTS
            ]
            behind = (" Over few requests: " + ", ".join(f"{g} {n:,}" for g, n in thin) + ".") if thin else ""
            return f"{interpret_head(query, words)} is {fmt(top.value, query)} for all {len(ranked)} groups.{behind}"
        text = (
            f"{interpret_head(query, words)} across {len(ranked)} groups: highest {top.group} "
            f"({fmt(top.value, query)}{few(top.group, ', ')})"
        )
        if len(ranked) > 1:
            text += f", lowest {low.group} ({fmt(low.value, query)}{few(low.group, ', ')})"
        return text + "."
    if len(groups) == 1:
        series = sorted(values, key=lambda r: r.bucket)
        return _series_summary(query, words, series)
    groups = outliers_first(values, groups)
    cut = {r.bucket: c for r in values if (c := _cut(query, r.bucket)) is not None} if _summed(query) else {}
    if len({r.bucket for r in values} - set(cut)) < 2:
        cut = {}
    parts = []
    for g in groups[:6]:
        series = sorted((r for r in values if r.group == g and r.bucket not in cut), key=lambda r: r.bucket)
        if not series:
            continue
        last = series[-1]
        parts.append(
            f"{g}: {fmt(min(r.value for r in series), query)}–{fmt(max(r.value for r in series), query)} "
            f"(latest {fmt(last.value, query)})"
        )
    more = f" (+{len(groups) - 6} more)" if len(groups) > 6 else ""
    text = f"{interpret_head(query, words)} for {len(groups)} series{more}. " + "; ".join(parts) + "."
    if cut:
        named = ", ".join(f"{bucket_text(b, query)} ({c})" for b, c in sorted(cut.items()))
        text += f" Whole {INCREMENT_WORDS.get(query.dbIncrement, 'bucket')}s only; cut by the range: {named}."
    return text


def unattributed_text(query: MetricsQuery, rows: list[Row], value: float | None) -> str:
    """What the requests without a value for the grouping add up to, and where they would rank among the groups
    shown: 'requests with no user id: $4.59 (would rank 2nd; ...)' ('' when they are none)."""
    if not value or query.group is None:
        return ""
    shown = sorted((r.value for r in rows if r.value is not None), reverse=True)
    rank = 1 + sum(v > value for v in shown)
    place = f"would rank {_ordinal(rank)}" if rank <= len(shown) else "below every group shown"
    missing = "user id" if query.group == "user" else query.group.split(":", 1)[-1]
    return f"requests with no {missing}: {fmt(value, query)} ({place}; not in the table)"


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def pivot_cells(query: MetricsQuery, rows: list[Row]) -> list[list[str]] | None:
    """A grouped, bucketed answer as one line per bucket and one column per group (in the rows' order: the
    largest first), so a screen of lines shows whole periods; None for any other answer."""
    if query.dbIncrement is None or not any(r.group is not None for r in rows):
        return None
    groups = list(dict.fromkeys(r.group for r in rows))
    values: dict[datetime, dict[str | None, float | None]] = {}
    for r in rows:
        values.setdefault(r.bucket, {})[r.group] = r.value
    header = ["bucket"] + [g if g is not None else "(none)" for g in groups]
    body = [[bucket_text(b, query)] + [fmt(line.get(g), query) for g in groups] for b, line in sorted(values.items())]
    return [header, *body]


def arrange(rows: list[Row], query: MetricsQuery, spec: QuerySpec | None) -> list[Row]:
    """Rows largest first (smallest first for bottom N, keeping N); bucketed series stay in time order."""
    bottom = spec is not None and spec.bottom and spec.top is not None
    if query.dbIncrement is None:
        ordered = sorted(rows, key=lambda r: (r.value is None, r.value if bottom else -(r.value or 0), r.group or ""))
        return ordered[: spec.top] if bottom else ordered
    totals: dict[str | None, float] = {}
    for r in rows:
        totals[r.group] = totals.get(r.group, 0.0) + (r.value or 0.0)
    rank = {g: i for i, g in enumerate(sorted(totals, key=lambda g: (-totals[g], g or "")))}
    return sorted(rows, key=lambda r: (r.bucket is None, r.bucket or datetime.min, rank[r.group]))


def explain_empty(spec: QuerySpec, run: Callable[[QuerySpec], list[Row]], query: MetricsQuery, now: datetime) -> str:
    """Why an answer is empty: the range holds no data (and where the data is), or which filter removed it all."""

    def count(conditions: list, rng: TimeRange | None = spec.range, bucket: str | None = None) -> list[Row]:
        probe = spec.model_copy(
            update={
                "measure": "requests",
                "aggregation": None,
                "scoreKey": None,
                "groupBy": None,
                "top": None,
                "bottom": False,
                "bucket": bucket,
                "conditions": conditions,
                "range": rng,
            }
        )
        return [r for r in run(probe) if r.value]

    if not count([]):
        return "There are no requests at all in that time range for this organization. " + _data_span(count, query, now)
    kept: list = []
    for condition in spec.conditions:
        kept.append(condition)
        if not count(kept):
            rest = " and ".join(c.describe() for c in kept[:-1])
            return f"No request in that time range has {condition.describe()}" + (
                f" together with {rest}." if rest else "."
            )
    matched = sum(r.value or 0 for r in count(list(spec.conditions)))
    what = {
        "errors": "failed",
        "error_rate": "failed",
        "threats": "was flagged as a threat",
        "users": "has a user id",
        "score": f"has a {spec.scoreKey} score" if spec.scoreKey else "has a score",
    }.get(spec.measure, f"has a {MEASURE_WORDS[spec.measure]} value")
    return f"{matched:,.0f} requests match in that time range, but none of them {what}."


def _data_span(count: Callable[..., list[Row]], query: MetricsQuery, now: datetime) -> str:
    """Where this organization's data starts and ends (within five years back and one ahead)."""
    now = _local(now.astimezone(UTC).replace(tzinfo=None), query)
    wide = TimeRange(kind="between", start=now - timedelta(days=5 * 365), end=now + timedelta(days=365))
    months = sorted(r.bucket for r in count([], wide, "month") if r.bucket)
    if not months:
        return "No data is recorded for it at all."
    first_days = [r.bucket for r in count([], _month_of(months[0]), "day") if r.bucket]
    last_days = [r.bucket for r in count([], _month_of(months[-1]), "day") if r.bucket]
    first = min(first_days, default=months[0])
    last = max(last_days, default=months[-1])
    return f"Its data runs from {_local(first, query):%b %d %Y} to {_local(last, query):%b %d %Y}."


def _month_of(bucket: datetime) -> TimeRange:
    start = bucket.replace(tzinfo=None) - timedelta(days=1)
    return TimeRange(kind="between", start=start, end=start + timedelta(days=33))


def agg_words(agg: str | None, words: str) -> str:
    """'p90 latency', 'median latency', 'total cost', 'total tokens' (not 'sum total tokens')."""
    if not agg:
        return words
    if agg == "sum":
        return words if words.startswith("total") else f"total {words}"
    return f"{'median' if agg == 'p50' else agg} {words}"


def interpret_head(query: MetricsQuery, words: str) -> str:
    """The summary's subject, capitalized: 'P90 latency', 'Total cost'."""
    text = agg_words(query.agg, words)
    return text[:1].upper() + text[1:]


def _few(counts: dict[str | None, int]) -> Callable[[str | None, str], str]:
    """The words a group's value takes when few requests are behind it: ', over 6 requests'."""

    def words(group: str | None, lead: str) -> str:
        n = counts.get(group)
        if n is None or n >= FEW_REQUESTS:
            return ""
        return f"{lead.rstrip()} over only {n:,} request{'' if n == 1 else 's'}"

    return words


def _series_summary(query: MetricsQuery, words: str, series: list[Row]) -> str:
    # a sum over a bucket the range cuts (the first day from noon, today so far) is no low or change: such
    # buckets are named apart and the figures come from the whole ones
    cut = {r.bucket: part for r in series if (part := _cut(query, r.bucket)) is not None} if _summed(query) else {}
    whole = [r for r in series if r.bucket not in cut]
    if cut and len(whole) < 2:
        whole, cut = series, {}
    whole_words = f"whole {INCREMENT_WORDS.get(query.dbIncrement, 'bucket')}s" if cut else "buckets"
    hi = max(whole, key=lambda r: r.value)
    lo = min(whole, key=lambda r: r.value)
    first, last = whole[0], whole[-1]
    text = (
        f"{interpret_head(query, words)} ranged {fmt(lo.value, query)}–{fmt(hi.value, query)} "
        f"over {len(whole)} {whole_words}; peak {fmt(hi.value, query)} at {bucket_text(hi.bucket, query)}, "
        f"low {fmt(lo.value, query)} at {bucket_text(lo.bucket, query)}."
    )
    if unit_of(query) == "%":  # a rate moves in points, never a percent of a percent
        text += f" Latest {fmt(last.value, query)} ({last.value - first.value:+.2f} pts vs the first bucket)."
    elif first.value:
        change = 100.0 * (last.value - first.value) / abs(first.value)
        latest, since = ("Latest whole one", "the first whole one") if cut else ("Latest", "the first bucket")
        text += f" {latest} {fmt(last.value, query)} ({change:+.0f}% vs {since})."
    spikes = spike_buckets(whole, counted=query.measure in COUNTED)
    if spikes:
        label = "Spike" if len(spikes) == 1 else "Spikes"
        text += (
            f" {label}: " + ", ".join(f"{bucket_text(r.bucket, query)} ({fmt(r.value, query)})" for r in spikes) + "."
        )
    parts = [
        f"{bucket_text(r.bucket, query)} ({fmt(r.value, query)}, {cut[r.bucket]})" for r in series if r.bucket in cut
    ]
    if parts:
        text += f" Cut by the range, so left out of those: {', '.join(parts)}."
    return text


def _summed(query: MetricsQuery) -> bool:
    """Whether a bucket's value adds up its requests (a bucket the range cuts holds less of it)."""
    return query.agg in ("sum", "count") or query.measure in COUNTED


def _cut(query: MetricsQuery, bucket: datetime | None) -> str | None:
    """How much of a bucket the query's range covers ('12 of 24 hours') when the range cuts it; None when whole."""
    if bucket is None or query.dbIncrement is None:
        return None
    tzd = timedelta(minutes=query.timeZoneDifference)
    end = step(bucket - tzd, query.dbIncrement) + tzd
    covered = min(end, seconds_utc(query.timeFilter.end)) - max(bucket, seconds_utc(query.timeFilter.start))
    if covered >= end - bucket:
        return None
    return _span_words(covered, end - bucket)


def _span_words(covered: timedelta, whole: timedelta) -> str:
    """'11.5 of 24 hours', '1.5 of 7 days', '30 of 60 minutes': the part of a bucket a range covers."""
    unit, size = (
        (("days", 86400) if whole >= timedelta(days=2) else ("hours", 3600)) if whole > HOUR else ("minutes", 60)
    )
    return f"{round(covered.total_seconds() / size, 1):g} of {round(whole.total_seconds() / size, 1):g} {unit}"


HOUR = timedelta(hours=1)


COUNTED = ("requests", "errors", "threats", "users")
SPIKE_RATIO, SPIKE_SPREADS, MAX_SPIKES = 1.5, 3.0, 3


def spike_buckets(series: list[Row], counted: bool = False) -> list[Row]:
    """The largest buckets (at most MAX_SPIKES, largest first) that stand out of a series of 4 or more: above
    1.5x its median and beyond median + 3 spreads (1.4826·MAD; for a count also 3·√median, the noise of counting,
    so 1 → 2 requests is never a spike)."""
    if len(series) < 4:
        return []
    ordered = sorted(r.value for r in series)
    median = ordered[len(ordered) // 2]
    if median <= 0:
        return []
    spread = 1.4826 * sorted(abs(v - median) for v in ordered)[len(ordered) // 2]
    if counted:
        spread = max(spread, math.sqrt(median), 1.0)
    floor = max(SPIKE_RATIO * median, median + SPIKE_SPREADS * spread)
    return sorted((r for r in series if r.value > floor), key=lambda r: -r.value)[:MAX_SPIKES]


def outliers_first(values: list[Row], groups: list[str | None]) -> list[str | None]:
    """Groups ordered by how far each series' mean lies from the middle of all the series' means, the outlier
    first: a summary of many series leads with the one that differs, not with the first name."""
    means = {g: statistics.fmean(r.value for r in values if r.group == g) for g in groups}
    middle = statistics.median(means.values())
    return sorted(groups, key=lambda g: (-abs(means[g] - middle), g is None, g or ""))


_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def prose_is_grounded(text: str, rows: list[Row], query: MetricsQuery) -> bool:
    """True when every number in `text` appears among the rows' values (as printed) or their buckets.

    A number found only in a group's name (`team-2024`) grounds nothing: it is a label, not a measurement."""
    allowed: set[str] = set()
    for r in rows:
        if r.value is not None:
            for form in (fmt(r.value, query), f"{r.value}", f"{r.value:.0f}", f"{r.value:.1f}", f"{r.value:.2f}"):
                allowed.update(n.replace(",", "") for n in _NUMBER.findall(form))
        if r.bucket is not None:
            allowed.update(_NUMBER.findall(bucket_text(r.bucket, query)))
    allowed.update(str(i) for i in range(0, 32))  # day numbers of dates
    allowed.add(str(len(rows)))
    if query.agg and query.agg.startswith("p"):
        allowed.add(query.agg[1:])  # "P90" names the percentile
    # derived figures the computed summary states: group/bucket counts and each series' change vs its first bucket
    groups = {r.group for r in rows}
    allowed.add(str(len(groups)))
    for g in groups:
        series = sorted((r for r in rows if r.group == g and r.value is not None and r.bucket), key=lambda r: r.bucket)
        allowed.add(str(len(series)))
        if len(series) > 1 and series[0].value:
            change = 100.0 * (series[-1].value - series[0].value) / abs(series[0].value)
            allowed.update({f"{change:+.0f}", f"{change:.0f}", f"{abs(change):.0f}"})
    numbers = [
        n
        for token in re.findall(r"[\w.,$%+-]+", text)
        if not re.search(r"[A-Za-z_]", token)
        for n in _NUMBER.findall(token)
    ]  # tokens with letters are names: gpt-4.1, a user id, p90
    return all(n.replace(",", "").rstrip(".") in allowed or n.replace(",", "").lstrip("+-") in allowed for n in numbers)
