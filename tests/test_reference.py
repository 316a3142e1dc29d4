"""The reference evaluator's own building blocks, checked against the standard library and hand-worked cases."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest

from tests import reference


@pytest.mark.parametrize("values", [[5.0], [1.0, 2.0], [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0], list(range(101))])
def test_percentiles_interpolate_like_the_inclusive_method(values):
    if len(values) > 1:
        cuts = statistics.quantiles(values, n=100, method="inclusive")  # cuts[k-1] is the k-th percentile
        for k in (1, 50, 75, 90, 95, 99):
            assert reference.percentile(values, k / 100) == pytest.approx(cuts[k - 1])
    assert reference.percentile(values, 0.0) == min(values) and reference.percentile(values, 1.0) == max(values)


def test_hand_worked_percentile():
    # (4 - 1) * 0.9 = 2.7: 30 + 0.7 * (40 - 30)
    assert reference.percentile([10, 40, 20, 30], 0.9) == pytest.approx(37.0)


@pytest.mark.parametrize(
    ("created", "unit", "tzd", "start"),
    [
        ("2026-11-17T04:59:59Z", "day", 300, "2026-11-16T05:00:00Z"),  # New York: still Nov 16
        ("2026-11-17T05:00:00Z", "day", 300, "2026-11-17T05:00:00Z"),
        ("2026-11-22T23:30:00Z", "week", -60, "2026-11-22T23:00:00Z"),  # Berlin: already Monday Nov 23
        ("2026-11-22T22:30:00Z", "week", -60, "2026-11-15T23:00:00Z"),
        ("2026-12-01T02:00:00Z", "month", 300, "2026-11-01T05:00:00Z"),
        ("2026-11-24T11:45:00Z", "hour", -330, "2026-11-24T11:30:00Z"),  # Kolkata hours start at :30
    ],
)
def test_local_buckets(created, unit, tzd, start):
    assert reference.utc_text(reference.bucket_start(reference.parse(created), unit, tzd)) == start


def test_named_ranges_in_a_zone():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)  # a Tuesday; New York 07:00
    assert reference.local_range(now, "America/New_York", "yesterday") == (
        datetime(2026, 11, 23, 5, tzinfo=UTC),
        datetime(2026, 11, 24, 5, tzinfo=UTC),
        300,
    )
    assert reference.local_range(now, "Europe/Berlin", "this_week")[0] == datetime(2026, 11, 22, 23, tzinfo=UTC)
    assert reference.local_range(now, "UTC", "this_month")[0] == datetime(2026, 11, 1, tzinfo=UTC)
    assert reference.local_range(now, "Asia/Kolkata", "today")[:2] == (datetime(2026, 11, 23, 18, 30, tzinfo=UTC), now)


def row(at, org="o", **fields):
    base = {"organization_id": org, "request_created_at": at, "status": 200, "model": "m", "user_id": "u"}
    return {**base, "properties": {}, "scores": {}, "threat": False, **fields}


def test_filters_groups_and_top_n_by_hand():
    rows = [
        row("2026-11-24T10:00:00Z", cost=0.5, model="a"),
        row("2026-11-24T10:10:00Z", cost=0.25, model="b", status=500, user_id=""),
        row("2026-11-24T10:20:00Z", cost=1.0, model="a", properties={"tier": "pro"}),
        row("2026-11-24T10:30:00Z", cost=9.0, model="c", org="other"),
        row("2026-11-24T12:00:00.500Z", cost=7.0, model="c"),  # after the end second: outside
    ]
    start, end = reference.parse("2026-11-24T00:00:00Z"), reference.parse("2026-11-24T12:00:00Z")
    ask = reference.Ask(metric="cost", agg="sum", start=start, end=end, group="model", top=1)
    assert reference.expected(rows, "o", ask) == [{"bucket": None, "group": "a", "value": 1.5}]
    users = reference.Ask(metric="users", start=start, end=end)
    assert reference.expected(rows, "o", users) == [{"bucket": None, "group": None, "value": 1}]
    errors = reference.Ask(metric="error_rate", start=start, end=end, where=(("model", "neq", "a"),))
    assert reference.expected(rows, "o", errors)[0]["value"] == 100.0
    missing_reads_empty = reference.Ask(
        metric="requests", start=start, end=end, where=(("property:tier", "neq", "pro"),)
    )
    assert reference.expected(rows, "o", missing_reads_empty)[0]["value"] == 2


def test_differences_treat_a_missing_row_as_zero_or_null():
    want = [{"bucket": "2026-11-24T00:00:00Z", "group": None, "value": 0}]
    assert reference.differences(want, []) == []
    assert (
        reference.differences(
            [{"bucket": None, "group": "accuracy", "value": 2.0}], [{"bucket": None, "group": None, "value": 2.0}]
        )
        == []
    )
    assert reference.differences(
        [{"bucket": None, "group": None, "value": 2.0}], [{"bucket": None, "group": None, "value": 2.1}]
    )
