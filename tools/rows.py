"""Engine-neutral operations on answer rows that every backend applies the same way."""

from __future__ import annotations

from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row


def keep_top(query: MetricsQuery, rows: list[Row], totals: list[Row]) -> list[Row]:
    """The rows of the `query.top` groups with the largest value over the whole range (`totals`, one row per
    group); groups without a value are never among them, and ties go to the group that sorts first."""
    ranked = sorted((r for r in totals if r.value is not None), key=lambda r: (-r.value, r.group or ""))
    keep = {r.group for r in ranked[: query.top]}
    return [r for r in rows if r.group in keep]
