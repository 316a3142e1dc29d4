"""An independent reference evaluator: the expected answer to a question, computed in plain Python.

It reads the generated request dicts directly and follows the question conventions (the README's, restated in the
tests' own words below), sharing no code with heliqa, so a test compares the product's answer with a value
computed a second, simpler way instead of a number copied from a run of the product.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

COLUMNS = {
    "latency": "latency",
    "ttft": "time_to_first_token",
    "prompt_tokens": "prompt_tokens",
    "completion_tokens": "completion_tokens",
    "total_tokens": "total_tokens",
    "cost": "cost",
}
GROUP_COLUMNS = {"model": "model", "provider": "provider", "user": "user_id", "country": "country_code"}


@dataclass(frozen=True)
class Ask:
    """One aggregate question, spelled plainly: what to measure, over which rows, how to slice it."""

    metric: str
    start: datetime
    end: datetime
    agg: str | None = None
    where: tuple[tuple[str, str, Any], ...] = ()  # (field, op, value); op in eq neq icontains gte gt lte lt in
    bucket: str | None = None  # min hour day week month
    tzd: int = 0  # minutes to subtract from UTC for local time (Helicone's timeZoneDifference)
    group: str | None = None  # model provider user status country property:<key>
    top: int | None = None
    bottom: int | None = None
    score_key: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


# --- time ---------------------------------------------------------------------------------------------------
def parse(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC)


@cache
def created_at(instant: str) -> datetime:
    """A row's creation instant (cached: every question re-reads the same tens of thousands of rows)."""
    return parse(instant)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def offset_minutes(tz: str, now: datetime) -> int:
    """timeZoneDifference at `now`: minutes to subtract from UTC to get local time."""
    return -round(ZoneInfo(tz).utcoffset(now.replace(tzinfo=None)).total_seconds() / 60)


def local_range(now: datetime, tz: str, kind: str, *args: Any) -> tuple[datetime, datetime, int]:
    """(start, end, tzd) of a named range, with the one offset taken at `now` (the time-range convention)."""
    tzd = offset_minutes(tz, now)
    shift = timedelta(minutes=tzd)
    local_now = now - shift
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "last":
        n, unit = args
        return now - timedelta(**{unit: n}), now, tzd
    if kind == "today":
        return midnight + shift, now, tzd
    if kind == "yesterday":
        return midnight - timedelta(days=1) + shift, midnight + shift, tzd
    if kind == "this_week":
        return midnight - timedelta(days=midnight.weekday()) + shift, now, tzd
    if kind == "this_month":
        return midnight.replace(day=1) + shift, now, tzd
    if kind == "day":  # a whole local day, "YYYY-MM-DD"
        day = datetime.fromisoformat(args[0]).replace(tzinfo=UTC)
        return day + shift, day + timedelta(days=1) + shift, tzd
    if kind == "between":  # local wall-clock instants
        return tuple(datetime.fromisoformat(a).replace(tzinfo=UTC) + shift for a in args) + (tzd,)
    raise ValueError(kind)


def bucket_start(created: datetime, unit: str, tzd: int) -> datetime:
    """The UTC instant at which the local bucket holding `created` starts."""
    shift = timedelta(minutes=tzd)
    local = created - shift
    if unit == "min":
        local = local.replace(second=0, microsecond=0)
    elif unit == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if unit == "week":
            local -= timedelta(days=local.weekday())
        elif unit == "month":
            local = local.replace(day=1)
    return local + shift


# --- rows ---------------------------------------------------------------------------------------------------
def value_of(row: dict, name: str) -> Any:
    """A field of a generated row; a missing property reads as '' (Helicone's map semantics)."""
    if name.startswith("property:"):
        return row["properties"].get(name.split(":", 1)[1], "")
    if name.startswith("score:"):
        return row["scores"].get(name.split(":", 1)[1])
    return row[GROUP_COLUMNS.get(name, name)]


def matches(row: dict, name: str, op: str, want: Any) -> bool:
    have = value_of(row, name)
    if op == "in":
        return any(matches(row, name, "eq", each) for each in want)
    if name.startswith("score:") and have is None:
        return False  # a score filter needs the key
    if op == "eq":
        return have == want
    if op == "neq":
        return have != want
    if op == "icontains":
        return have is not None and str(want).lower() in str(have).lower()
    if have is None:
        return False
    return {"gte": have >= want, "gt": have > want, "lte": have <= want, "lt": have < want}[op]


def selected(rows: Iterable[dict], org: str, ask: Ask) -> list[dict]:
    """The organization's rows inside [start, end] (bounds truncated to whole seconds) matching every filter."""
    start = ask.start.replace(microsecond=0)
    end = ask.end.replace(microsecond=0)
    out = []
    for row in rows:
        if row["organization_id"] != org:
            continue
        created = created_at(row["request_created_at"])
        if start <= created <= end and all(matches(row, *w) for w in ask.where):
            out.append(row)
    return out


# --- aggregation --------------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """Exact percentile, linear interpolation between order statistics (numpy's default)."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def aggregate(values: list[float], agg: str) -> float | None:
    if not values:
        return None
    if agg == "avg":
        return sum(values) / len(values)
    if agg == "sum":
        return sum(values)
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    if agg == "count":
        return len(values)
    return percentile(values, int(agg[1:]) / 100)


def measure(rows: list[dict], ask: Ask, key: str | None = None) -> float | None:
    """One number for a set of rows."""
    m = ask.metric
    if m == "requests":
        return len(rows)
    if m == "errors":
        return sum(1 for r in rows if r["status"] >= 400)
    if m == "error_rate":
        return 100 * sum(1 for r in rows if r["status"] >= 400) / len(rows) if rows else None
    if m == "threats":
        return sum(1 for r in rows if r["threat"])
    if m == "users":
        return len({r["user_id"] for r in rows if r["user_id"]})
    if m == "score":
        return aggregate([r["scores"][key] for r in rows if key in r["scores"]], ask.agg or "avg")
    if m == "cost":  # stored as whole nano-USD, as Helicone does
        nano = aggregate([round(r["cost"] * 1e9) for r in rows], ask.agg or "sum")
        return None if nano is None else nano / 1e9
    values = [r[COLUMNS[m]] for r in rows if r[COLUMNS[m]] is not None]
    return aggregate(values, ask.agg or ("avg" if m in ("latency", "ttft") else "sum"))


def group_of(row: dict, group: str) -> str | None:
    if group == "status":
        return str(row["status"])
    if group.startswith("property:"):
        value = row["properties"].get(group.split(":", 1)[1], "")
    else:
        value = row[GROUP_COLUMNS[group]]
    return value or None  # rows without a value are left out of the groups


def expected(rows: Iterable[dict], org: str, ask: Ask) -> list[dict]:
    """The answer's data rows `{"bucket", "group", "value"}` for `ask` over the organization's rows."""
    chosen = selected(rows, org, ask)
    every_key = ask.metric == "score" and ask.score_key is None  # one series per score key
    slices: dict[tuple[str | None, str | None], list[dict]] = defaultdict(list)
    for row in chosen:
        created = created_at(row["request_created_at"])
        bucket = utc_text(bucket_start(created, ask.bucket, ask.tzd)) if ask.bucket else None
        if every_key:
            groups: list[str | None] = list(row["scores"])
        elif ask.group:
            groups = [g] if (g := group_of(row, ask.group)) is not None else []
        else:
            groups = [None]
        for group in groups:
            slices[(bucket, group)].append(row)
    if not slices and not (ask.bucket or ask.group or every_key):
        slices[(None, None)] = []  # a single number over no rows
    out = []
    for (bucket, group), members in slices.items():
        key = ask.score_key or group if ask.metric == "score" else None
        out.append({"bucket": bucket, "group": group, "value": measure(members, ask, key)})
    if ask.top or ask.bottom:
        ranked = sorted((r for r in out if r["value"] is not None), key=lambda r: r["value"], reverse=bool(ask.top))
        out = ranked[: ask.top or ask.bottom]
    return out


# --- comparison ---------------------------------------------------------------------------------------------
def _table(rows: Iterable[dict]) -> dict[tuple[str | None, str | None], Any]:
    def bucket(b: Any) -> str | None:
        if b in (None, ""):
            return None
        return utc_text(b if isinstance(b, datetime) else parse(str(b)))

    return {(bucket(r.get("bucket")), None if r.get("group") is None else str(r["group"])): r["value"] for r in rows}


def _close(a: Any, b: Any) -> bool:
    a, b = (0 if a is None else a), (0 if b is None else b)
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-6)


def differences(want: Iterable[dict], got: Iterable[dict]) -> list[str]:
    """Where two answers' rows disagree: matched by (bucket, group); a missing row counts as 0 or null."""
    want_t, got_t = _table(want), _table(got)
    if {g for _, g in got_t} == {None} and len({g for _, g in want_t}) == 1:  # one series, named or not
        want_t = {(b, None): v for (b, _), v in want_t.items()}
    return [
        f"{key}: want {want_t.get(key)!r}, got {got_t.get(key)!r}"
        for key in sorted(set(want_t) | set(got_t), key=str)
        if not _close(want_t.get(key), got_t.get(key))
    ]
