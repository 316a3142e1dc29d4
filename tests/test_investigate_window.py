"""The explain window on hand-built hourly series: a lasting shift is one window, a short spike stays short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heliqa.tools.investigate import (
    MIN_SCORED,
    ExplainQuery,
    Point,
    baseline_values,
    departure_window,
    merge_blocks,
    score_block_hours,
)
from heliqa.tools.query import TimeFilter

START = datetime(2026, 11, 17)  # the range: one day of hours after a 7-day baseline


def _query(measure: str) -> ExplainQuery:
    z = lambda t: t.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    return ExplainQuery(
        measure=measure,
        scoreKey="accuracy" if measure == "score" else None,
        timeFilter=TimeFilter(start=z(START), end=z(START + timedelta(days=1))),
        baseline=TimeFilter(start=z(START - timedelta(days=7)), end=z(START)),
        dimensions=("model",),
    )


def _series(range_values: list[float], base_values: list[float]) -> list[Point]:
    base = [Point(START - timedelta(hours=len(base_values) - i), v, 30, False) for i, v in enumerate(base_values)]
    return base + [Point(START + timedelta(hours=i), v, 30, True) for i, v in enumerate(range_values)]


def test_a_lasting_score_shift_with_milder_hours_is_one_window():
    # baseline: a noisy hourly score around 86 (its median 86, its MAD 2)
    base_values = [84.0, 88.0, 86.0] * 56
    # the range: 4 normal hours, then a new prompt lowers the score for the rest of the day; the hourly average
    # is noisy, so some hours of the shift are only mildly low (83, one spread and a half) between strong ones
    normal, shifted = [86.0, 85.0, 87.0, 86.0], [76.0, 83.0, 78.0, 83.0, 77.0, 79.0, 83.0, 76.0, 83.0, 78.0] * 2
    series = _series(normal + shifted, base_values)
    found = departure_window(_query("score"), series, 86.0, baseline_values(series))
    assert found is not None
    (start, end), _, _ = found
    assert start == START + timedelta(hours=len(normal))
    assert end == START + timedelta(days=1)


def test_a_spike_does_not_reach_over_quiet_hours():
    base_values = [1000.0, 1100.0, 1050.0] * 56  # p90 latency, median 1050, MAD 50
    quiet = [1050.0, 1000.0, 1100.0, 1050.0, 1000.0, 1100.0]
    # a mild bump (2 spreads) early, then six quiet hours, then a six-hour incident
    values = [1050.0, 1200.0, 1200.0] + quiet + [3000.0] * 6 + quiet + [1050.0, 1000.0, 1100.0]
    series = _series(values, base_values)
    found = departure_window(_query("latency"), series, 1050.0, baseline_values(series))
    assert found is not None
    (start, end), _, _ = found
    first = values.index(3000.0)
    assert (start, end) == (START + timedelta(hours=first), START + timedelta(hours=first + 6))


def test_a_lone_departing_hour_counts_only_as_the_latest_one():
    base_values = [1000.0, 1100.0, 1050.0] * 56  # median 1050, MAD 50: a spread of 1.4826 * 50
    spread = 1.4826 * 50
    bump = 1050.0 + 4 * spread  # beyond K = 3 spreads, short of 2K
    quiet = [1050.0, 1000.0, 1100.0] * 7 + [1050.0, 1000.0]
    # the bump in the range's last hour (an incident that has just begun) is the window ...
    latest = _series(quiet + [bump], base_values)
    found = departure_window(_query("latency"), latest, 1050.0, baseline_values(latest))
    assert found is not None and found[0] == (START + timedelta(hours=23), START + timedelta(days=1))
    # ... the same lone bump among quiet hours is one of many hours tested, and not enough
    middle = _series(quiet[:12] + [bump] + quiet[12:], base_values)
    assert departure_window(_query("latency"), middle, 1050.0, baseline_values(middle)) is None


def test_a_small_shift_in_a_thin_series_shows_in_blocks_of_hours():
    # a yes/no score on 6 requests an hour: its hourly rate jumps between 4/6, 5/6 and 6/6
    base_values = [4 / 6, 5 / 6, 1.0] * 56
    normal, shifted = [4 / 6, 5 / 6, 1.0] * 2, [3 / 6, 4 / 6, 5 / 6] * 6  # from hour 6 on, one correct answer fewer
    series = _series(normal + shifted, base_values)
    query = _query("score")
    typical = 5 / 6
    assert departure_window(query, series, typical, baseline_values(series)) is None  # each hour within the noise

    blocks = merge_blocks(series, 3, 0, summed=False)
    in_range = [p for p in blocks if p.in_range]
    assert [p.bucket for p in in_range] == [START + timedelta(hours=h) for h in range(0, 24, 3)]
    assert [p.requests for p in in_range] == [90] * 8  # three hours of 30 requests each
    assert in_range[0].value == pytest.approx(sum(normal[:3]) / 3)
    assert in_range[-1].value == pytest.approx(sum(shifted[-3:]) / 3)
    found = departure_window(query, blocks, typical, baseline_values(blocks), timedelta(hours=3))
    assert found is not None
    assert found[0] == (START + timedelta(hours=len(normal)), START + timedelta(days=1))


def test_blocks_add_up_a_sum_and_start_on_local_multiples():
    hours = [Point(datetime(2026, 11, 17, h), float(h), 10, True) for h in range(1, 7)]
    # New York in winter (300 minutes behind UTC): local blocks 18:00, 21:00, 00:00 start at 23:00, 02:00, 05:00 UTC
    blocks = merge_blocks(hours, 3, 300, summed=True)
    assert [(p.bucket.hour, p.value, p.requests) for p in blocks] == [(23, 1, 10), (2, 2 + 3 + 4, 30), (5, 5 + 6, 20)]


@pytest.mark.parametrize(("scored_per_hour", "want"), [(5, 6), (12, 3), (40, 1)])
def test_a_thin_score_is_judged_in_blocks_holding_enough_scored_requests(scored_per_hour, want):
    base = [Point(START - timedelta(hours=h + 1), 0.8, scored_per_hour, False) for h in range(7 * 24)]
    series = base + [Point(START + timedelta(hours=h), 0.8, scored_per_hour, True) for h in range(24)]
    hours = score_block_hours(_query("score"), series)
    # the smallest of 1, 3 or 6 hours whose blocks hold 30 scored requests: 5 an hour needs 6 hours, 12 needs 3
    assert MIN_SCORED == 30
    assert hours == want
    assert score_block_hours(_query("latency"), series) == 1  # only a score is thin this way
