"""Helicone's local-time buckets computed in Python (for gap filling and tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from heliqa.tools.errors import LimitExceeded
from heliqa.tools.limits import bucket_problem
from heliqa.tools.query import MetricsQuery, TimeFilter
from heliqa.tools.results import Row
from heliqa.tools.sql import seconds_utc


def truncate(local: datetime, increment: str) -> datetime:
    """Truncate a wall-clock time to the start of its bucket (weeks start on Monday)."""
    if increment == "min":
        return local.replace(second=0, microsecond=0)
    if increment == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if increment == "day":
        return day
    if increment == "week":
        return day - timedelta(days=day.weekday())
    if increment == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def step(local: datetime, increment: str) -> datetime:
    """The start of the next bucket."""
    if increment in ("min", "hour", "day", "week"):
        return (
            local
            + {
                "min": timedelta(minutes=1),
                "hour": timedelta(hours=1),
                "day": timedelta(days=1),
                "week": timedelta(weeks=1),
            }[increment]
        )
    if increment == "month":
        return local.replace(year=local.year + local.month // 12, month=local.month % 12 + 1)
    return local.replace(year=local.year + 1)


def bucket_labels(
    time_filter: TimeFilter, increment: str, tz_difference: float, limit: int = 100_000
) -> list[datetime]:
    """Every bucket label from the range's start to its end inclusive (Helicone's WITH FILL)."""
    shift = timedelta(minutes=int(tz_difference))
    current = truncate(seconds_utc(time_filter.start) - shift, increment)
    last = truncate(seconds_utc(time_filter.end) - shift, increment)
    labels = []
    while current <= last and len(labels) < limit:
        labels.append(current + timedelta(minutes=tz_difference))
        current = step(current, increment)
    return labels


def bucket_count(time_filter: TimeFilter, increment: str, tz_difference: float) -> int:
    """How many labels `bucket_labels` gives, computed without listing them."""
    shift = timedelta(minutes=int(tz_difference))
    first = truncate(seconds_utc(time_filter.start) - shift, increment)
    last = truncate(seconds_utc(time_filter.end) - shift, increment)
    if last < first:
        return 0
    if increment == "year":
        return last.year - first.year + 1
    if increment == "month":
        return (last.year - first.year) * 12 + last.month - first.month + 1
    size = {"min": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
    return (last - first) // size.get(increment, timedelta(weeks=1)) + 1


def check_buckets(time_filter: TimeFilter, increment: str, tz_difference: float) -> None:
    """Refuse a range needing more than MAX_BUCKETS time buckets (Helicone would time out, we would fill them all)."""
    problem = bucket_problem(bucket_count(time_filter, increment, tz_difference), increment)
    if problem:
        raise LimitExceeded([problem], "use a larger dbIncrement or a shorter time range")


def fill_counts(query: MetricsQuery, rows: list[Row]) -> list[Row]:
    """Give empty buckets of counts and sums an explicit 0 so series have no silent gaps (every engine)."""
    additive = query.measure in ("requests", "errors", "threats", "users") or query.agg in ("sum", "count")
    if query.dbIncrement is None and query.group is None and not rows:
        return [Row(None, None, 0.0 if additive and query.measure != "score" else None)]  # one number, even of nothing
    if query.dbIncrement is None or not additive or query.measure == "score":
        return rows
    end = seconds_utc(query.timeFilter.end)
    # a bucket that starts exactly at the range's end holds only that instant: no zero row for it
    labels = [b for b in bucket_labels(query.timeFilter, query.dbIncrement, query.timeZoneDifference) if b < end]
    groups = sorted({r.group for r in rows}, key=lambda g: (g is not None, g)) or [None]
    return fill_buckets(rows, labels, groups)


def fill_buckets(rows: list[Row], labels: list[datetime], groups: list[str | None]) -> list[Row]:
    """`rows` plus a 0 for every (bucket label, group) that has none, sorted by bucket then group."""
    have = {(r.bucket, r.group) for r in rows}
    filled = rows + [Row(b, g, 0.0) for b in labels for g in groups if (b, g) not in have]
    return sorted(filled, key=lambda r: (r.bucket or datetime.min, r.group or ""))
