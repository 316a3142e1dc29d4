"""The row operations and the vocabulary cache every backend shares (tools/rows.py, tools/cache.py)."""

from __future__ import annotations

from datetime import datetime

from heliqa.tools.cache import TtlCache
from heliqa.tools.query import MetricsQuery
from heliqa.tools.results import Row
from heliqa.tools.rows import keep_top
from heliqa.tools.timebuckets import fill_buckets

DAY = {"start": "2026-11-10T00:00:00Z", "end": "2026-11-12T00:00:00Z"}


def test_keep_top_ranks_by_total_skips_groups_without_a_value_and_breaks_ties_by_name():
    query = MetricsQuery(measure="cost", aggregation="sum", groupBy="model", top=2, dbIncrement="day", timeFilter=DAY)
    d1, d2 = datetime(2026, 11, 10), datetime(2026, 11, 11)
    totals = [Row(None, "a", 5.0), Row(None, "b", 7.0), Row(None, "c", 7.0), Row(None, "d", None)]
    rows = [Row(d, g, 1.0) for d in (d1, d2) for g in "abcd"]
    kept = keep_top(query, rows, totals)
    # b and c tie at 7 above a at 5; d has no value; the per-bucket rows of b and c stay in their order
    assert kept == [Row(d1, "b", 1.0), Row(d1, "c", 1.0), Row(d2, "b", 1.0), Row(d2, "c", 1.0)]
    assert keep_top(query.model_copy(update={"top": 1}), totals, totals) == [Row(None, "b", 7.0)]


def test_fill_buckets_adds_a_zero_for_each_missing_bucket_and_group():
    d1, d2 = datetime(2026, 11, 10), datetime(2026, 11, 11)
    rows = [Row(d2, "x", 3.0)]
    assert fill_buckets(rows, [d1, d2], ["x", "y"]) == [
        Row(d1, "x", 0.0),
        Row(d1, "y", 0.0),
        Row(d2, "x", 3.0),
        Row(d2, "y", 0.0),
    ]


def test_ttl_cache_loads_once_per_key_until_the_ttl_passes():
    now = [100.0]
    cache = TtlCache(ttl=10, clock=lambda: now[0])
    loads = []

    def load(value):
        loads.append(value)
        return value

    assert cache.get("org", lambda: load(1)) == 1
    now[0] = 109.9
    assert cache.get("org", lambda: load(2)) == 1 and loads == [1]
    assert cache.get("other", lambda: load(3)) == 3
    now[0] = 110.1
    assert cache.get("org", lambda: load(4)) == 4 and loads == [1, 3, 4]
    cache.clear()
    assert cache.get("org", lambda: load(5)) == 5
