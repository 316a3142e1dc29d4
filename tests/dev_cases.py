"""The dev question set's `spec` field turned into the MetricsQuery it describes (shared by backend tests)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from heliqa.agent.timerange import TimeRange, resolve
from tests.conftest import DEV_CASES
from heliqa.tools.filters import all_of, leaf
from heliqa.tools.query import MetricsQuery

OPS = {"eq": "equals", "neq": "not-equals", "icontains": "contains", "gte": "gte", "gt": "gt", "lte": "lte", "lt": "lt"}
SPEC_FIELDS = {"user": "user_id", "country": "country_code"}
SPEC_GROUPS = {"user_id": "user", "country_code": "country"}


def ok_cases() -> list[dict]:
    """The dev cases that expect one aggregate (comparisons, lists and explanations: tests/test_investigate.py)."""
    cases = [json.loads(line) for line in DEV_CASES.read_text().splitlines() if line.strip()]
    return [c for c in cases if c["expect"] == "ok" and "compare" not in c["spec"]]


def time_range(spec: list) -> TimeRange:
    """A case's range (`["last", 7, "days"]`, `["local_day", "2026-11-21"]`, ...) as a TimeRange."""
    kind, *args = spec
    if kind == "last":
        return TimeRange(kind="last", n=args[0], unit=args[1])
    if kind == "local_day":
        return TimeRange(kind="day", day=args[0])
    if kind == "between":
        return TimeRange(kind="between", start=args[0], end=args[1])
    return TimeRange(kind=kind)


def condition(field: str, op: str, value):
    """One `where` triple as a Helicone filter leaf."""
    if field.startswith("property:"):
        return leaf("properties", OPS[op], value, key=field.split(":", 1)[1])
    if field.startswith("score:"):
        return leaf("scores", OPS[op], str(value), key=field.split(":", 1)[1])
    return leaf(SPEC_FIELDS.get(field, field), OPS[op], value)


def dev_query(case: dict) -> MetricsQuery:
    """The MetricsQuery a dev case's `spec` describes, at the case's now and zone."""
    spec = case["spec"]
    now = datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    time_filter, tzd = resolve(time_range(spec["range"]), now, ZoneInfo(case["tz"]))
    return MetricsQuery(
        measure=spec["metric"],
        aggregation=spec.get("agg"),
        scoreKey=spec.get("score_key"),
        groupBy=SPEC_GROUPS.get(spec.get("group"), spec.get("group")),
        top=spec.get("top"),
        timeFilter=time_filter,
        userFilter=all_of([condition(*where) for where in spec["where"]]),
        dbIncrement=spec.get("bucket"),
        timeZoneDifference=tzd,
    )
